/**
 * report.html in headless Chromium (Debian's `chromium`, driven by playwright-core): it
 * renders with no console errors and no network request, its figures are plan.json's,
 * the Gantt chart has one bar per (stage, micro-batch, forward/backward) and ends at
 * plan.json's step, and a screenshot is taken. One single-stage plan (the bundled
 * example, `autopar compile` with no model) and one pipelined plan (2 stages, 4
 * micro-batches). Skipped, saying why, when /usr/bin/chromium is absent (.ci/run installs it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPlanJson } from '../src/explain/read-plan.js';
import type { PlanJson } from '../src/planner/plan-json.js';
import { bytesText, secondsText } from '../src/report/format.js';
import { model, runJson } from './helpers/cli.js';
import { tempDir } from './helpers/onnx-builder.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const title = HAVE_CHROMIUM
  ? 'report.html in headless Chromium'
  : `report.html in headless Chromium (SKIPPED: ${CHROMIUM} is absent; apt-get install chromium, as .ci/run does)`;
if (!HAVE_CHROMIUM) console.warn(title);

const tmp = tempDir('report');
const CLUSTER = 'examples/clusters/1x4-a100.yaml';

/** The two plans: compiled once, each opened in its own page. */
const cases = [
  { name: 'single-stage (bundled example)', dir: path.join(tmp, 'demo'), args: ['compile'] },
  {
    name: 'pipelined (2 stages, 4 micro-batches)',
    dir: path.join(tmp, 'pp'),
    args: ['compile', model('gpt2_tiny_opset17.onnx'), '--cluster', CLUSTER, '--batch', '8', '--loss', 'cross-entropy', '--strategy', 'dp=1,tp=2,pp=2', '--microbatches', '4'],
  },
] as const;

interface Opened {
  readonly plan: PlanJson;
  readonly page: Page;
  readonly errors: string[];
  readonly requests: string[];
}

describe.skipIf(!HAVE_CHROMIUM)(title, () => {
  let browser: Browser | undefined;
  const opened = new Map<string, Opened>();

  beforeAll(async () => {
    // Both compiles at once (two cores), then one browser for both pages.
    await Promise.all(cases.map((c) => runJson([...c.args, '--out', c.dir])));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    for (const c of cases) {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(path.join(c.dir, 'report.html')).href, { waitUntil: 'load' });
      opened.set(c.name, { plan: readPlanJson(c.dir).plan, page, errors, requests });
    }
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const get = (name: string): Opened => {
    const o = opened.get(name);
    if (!o) throw new Error(`${name} was not opened`);
    return o;
  };

  for (const c of cases) {
    describe(c.name, () => {
      it('is written atomically beside plan.json and renders with no console error and nothing fetched', () => {
        const { errors, requests } = get(c.name);
        expect(fs.readdirSync(c.dir).sort()).toEqual(expect.arrayContaining(['plan.json', 'report.html']));
        expect(fs.readdirSync(c.dir).filter((f) => f.includes('.tmp'))).toEqual([]);
        expect(errors).toEqual([]);
        // Only the page itself: no stylesheet, script or font from anywhere.
        expect(requests.filter((u) => !u.endsWith('/report.html'))).toEqual([]);
        expect(fs.readFileSync(path.join(c.dir, 'report.html'), 'utf8')).not.toMatch(/(src|href)="https?:/);
      });

      it("shows plan.json's figures: step time, devices, stages, memory, communication, bubble", async () => {
        const { plan, page } = get(c.name);
        const figure = async (key: string): Promise<{ value: number; text: string }> => {
          const el = page.locator(`[data-figure="${key}"]`);
          expect(await el.count(), key).toBe(1);
          return { value: Number(await el.getAttribute('data-value')), text: (await el.locator('.v').textContent()) ?? '' };
        };
        const step = await figure('step-time');
        expect(step.value).toBe(plan.cost.stepTimeSeconds);
        expect(step.text).toBe(secondsText(plan.cost.stepTimeSeconds));
        expect((await figure('devices')).value).toBe(plan.cluster.devices);
        expect((await figure('stages')).value).toBe(plan.stages.length);
        const memory = await figure('memory');
        expect(memory.value).toBe(plan.cost.peakMemoryBytesPerDevice);
        expect(memory.text).toBe(bytesText(plan.cost.peakMemoryBytesPerDevice));
        expect((await figure('memory-limit')).value).toBe(plan.cost.memoryLimitBytesPerDevice);
        expect((await figure('communication')).value).toBe(plan.cost.communicationBytesPerStep);
        expect((await figure('bubble')).value).toBe(plan.cost.bubbleSeconds);
        expect((await figure('throughput')).value).toBeCloseTo(plan.batch / plan.cost.stepTimeSeconds, 6);
        // Memory per device: one bar per stage with that stage's estimate; the largest is the peak.
        const bars = await page.locator('[data-memory-stage]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
        expect(bars).toEqual(plan.stages.map((s) => s.memoryBytesPerDevice));
        expect(Math.max(...bars)).toBe(plan.cost.peakMemoryBytesPerDevice);
      });

      it('colours every device of the mesh by the stage that runs it', async () => {
        const { plan, page } = get(c.name);
        const devices = await page.locator('#mesh .device').evaluateAll((els) => els.map((e) => [Number(e.getAttribute('data-device')), e.getAttribute('data-stage')] as const));
        expect(devices).toHaveLength(plan.cluster.devices);
        for (const [d, s] of devices) {
          const want = plan.stages.findIndex((st) => st.devices.includes(d));
          expect(s, `device ${d}`).toBe(want < 0 ? '' : String(want));
        }
      });

      it("draws one Gantt bar per (stage, micro-batch, forward/backward), one update per stage, ending at plan.json's step", async () => {
        const { plan, page } = get(c.name);
        const bars = await page.locator('#gantt .bar').evaluateAll((els) => els.map((e) => ({ kind: e.getAttribute('data-kind') ?? '', stage: e.getAttribute('data-stage') ?? '', mb: e.getAttribute('data-mb'), end: Number(e.getAttribute('data-end')) })));
        const S = plan.stages.length;
        const M = plan.schedule.microbatches;
        const want: string[] = [];
        for (let s = 0; s < S; s++) for (let m = 0; m < M; m++) want.push(`${s}/${m}/forward`, `${s}/${m}/backward`);
        const passes = bars.filter((b) => b.kind === 'forward' || b.kind === 'backward').map((b) => `${b.stage}/${b.mb ?? '?'}/${b.kind}`);
        expect(passes.sort()).toEqual(want.sort());
        expect(bars.filter((b) => b.kind === 'update').map((b) => b.stage).sort()).toEqual(Array.from({ length: S }, (_, s) => String(s)));
        const end = Math.max(...bars.map((b) => b.end));
        expect(Math.abs(end - plan.cost.stepTimeSeconds) / plan.cost.stepTimeSeconds).toBeLessThan(1e-9);
      });

      it('lists the layers, filters them as typed, and takes a screenshot', async () => {
        const { page } = get(c.name);
        const rows = page.locator('#layers tbody tr');
        const total = await rows.count();
        expect(total).toBeGreaterThan(5);
        await page.fill('#layer-filter', 'qkv');
        const shown = await rows.evaluateAll((els) => els.filter((e) => !(e.getAttribute('style') ?? '').includes('display: none')).length);
        expect(shown).toBeGreaterThan(0);
        expect(shown).toBeLessThan(total);
        await page.fill('#layer-filter', '');
        const file = path.join(tmp, `${path.basename(c.dir)}.png`);
        await page.screenshot({ path: file, fullPage: true });
        const png = fs.readFileSync(file);
        expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
        // IHDR: width and height, big-endian, after the signature and the chunk header.
        expect(png.readUInt32BE(16)).toBeGreaterThan(800);
        expect(png.readUInt32BE(20)).toBeGreaterThan(1000);
        expect(png.length).toBeGreaterThan(50_000);
      });
    });
  }

  it('the pipelined report shows its tensor-parallel layers as Megatron column- and row-parallel', async () => {
    const { page } = get(cases[1].name);
    const patterns = await page.locator('#layers tbody tr td:nth-child(5)').allTextContents();
    expect(patterns).toContain('column-parallel over x');
    expect(patterns).toContain('row-parallel over x');
  });
});
