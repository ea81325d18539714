/**
 * The programmatic API (`compile`, `compare`, `sweep`, `run` from 'autopar'): the same
 * objects the CLI prints, a model as bytes or path, a cluster as path, YAML or object,
 * progress events, and the training-loop example run as a user would.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compare, compile, loadCluster, sweep, type ProgressEvent } from '../src/api.js';
import { findMpirun } from '../src/runtime/collectives/mpi/launcher.js';
import { model, ROOT, runCli, runJson, runNode } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autopar-api-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CLUSTER2 = path.join(ROOT, 'examples', 'clusters', '1x2-a100.yaml');
const CLUSTER8 = path.join(ROOT, 'examples', 'clusters', '1x8-a100.yaml');

describe('compile()', () => {
  it('plans bytes in memory: no files, a plan without a source to re-read, progress events', async () => {
    const events: ProgressEvent[] = [];
    const r = await compile({ model: fs.readFileSync(model('mlp.onnx')), modelName: 'mlp.onnx', cluster: { yaml: fs.readFileSync(CLUSTER2, 'utf8'), name: '1x2.yaml' }, strategy: 'dp', onProgress: (e) => events.push(e) });
    expect(r.model).toBe('mlp.onnx');
    expect(r.devices).toBe(2);
    expect(r.strategy).toBe('dp');
    expect(r.plan).toBeUndefined();
    expect(r.report).toBeUndefined();
    expect(r.planJson.cluster.file).toBe('1x2.yaml');
    expect(r.planJson.stages[0]?.mesh.shape).toEqual([2]);
    // The temporary copy of the bytes is gone, so the plan must not point at it.
    expect(r.planJson.source).toBeUndefined();
    expect(r.throughputSamplesPerSecond).toBeCloseTo(r.planJson.batch / r.planJson.cost.stepTimeSeconds, 6);
    const phases = events.flatMap((e) => (e.kind === 'phase' ? [e.phase] : []));
    expect(phases).toEqual(['import', 'training graph', 'intra-op']);
    expect(events.some((e) => e.kind === 'mesh' && e.done === e.total)).toBe(true);
  });

  it('writes what `autopar compile --out` writes and returns what --json prints', async () => {
    const apiDir = path.join(tmp, 'api-out');
    const cliDir = path.join(tmp, 'cli-out');
    const [api, cli] = await Promise.all([
      compile({ model: model('mlp.onnx'), cluster: loadCluster(CLUSTER2), strategy: 'megatron', out: apiDir }),
      runJson(['compile', model('mlp.onnx'), '--cluster', CLUSTER2, '--strategy', 'megatron', '--out', cliDir]),
    ]);
    const { planJson, ...printed } = api;
    const timing = (o: object): object => ({ ...o, planningSeconds: 0, phases: [], plan: '', report: '', programs: '' });
    expect(timing(printed)).toEqual(timing(cli as object));
    expect(Object.keys(printed).sort()).toEqual(Object.keys(cli as object).sort());
    for (const f of ['plan.json', 'report.html', 'devices/device-0.json', 'devices/device-1.mjs']) expect(fs.existsSync(path.join(apiDir, f)), f).toBe(true);
    expect(api.plan).toBe(path.join(apiDir, 'plan.json'));
    expect(JSON.parse(fs.readFileSync(path.join(apiDir, 'plan.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(planJson)));
    // plan.json is the same either way (it holds no timings).
    expect(fs.readFileSync(path.join(apiDir, 'plan.json'), 'utf8')).toBe(fs.readFileSync(path.join(cliDir, 'plan.json'), 'utf8'));
  }, 120_000);

  it('saves a model given as bytes into out, so run() can re-read it (threads, and mpi where installed)', async () => {
    const dir = path.join(tmp, 'bytes-out');
    const mpirun = findMpirun();
    // In a child process, as a user's script: planning and the run's set-up hold the event loop for seconds.
    const script = `
      import fs from 'node:fs';
      import { compile, run } from 'autopar';
      const r = await compile({ model: fs.readFileSync(${JSON.stringify(model('gpt2_tiny.onnx'))}), modelName: 'gpt2_tiny.onnx', cluster: ${JSON.stringify(CLUSTER2)}, strategy: 'dp', loss: 'cross-entropy', out: ${JSON.stringify(dir)} });
      const ran = await run(${JSON.stringify(dir)}, { steps: 2 });
      const mpi = ${mpirun ? 'true' : 'false'} ? await run(${JSON.stringify(dir)}, { steps: 2, transport: 'mpi' }) : null;
      console.log(JSON.stringify({ source: r.planJson.source?.model ?? null, ran, mpi }));
    `;
    const child = await runNode(['--input-type=module', '-e', script], { timeoutMs: 120_000 });
    expect(child.status, child.stderr).toBe(0);
    type Ran = { devices: number; loss: number[]; collectives: unknown; plannedCollectives: unknown };
    const out = JSON.parse(child.stdout) as { source: string | null; ran: Ran; mpi: Ran | null };
    expect(out.source).toBe(path.resolve(dir, 'gpt2_tiny.onnx'));
    expect(fs.readFileSync(path.join(dir, 'gpt2_tiny.onnx'))).toEqual(fs.readFileSync(model('gpt2_tiny.onnx')));
    expect(out.ran.devices).toBe(2);
    expect(out.ran.loss).toHaveLength(2);
    expect(out.ran.collectives).toEqual(out.ran.plannedCollectives);
    // The same plan under mpirun (when installed): the same losses and collectives.
    if (out.mpi) {
      expect(out.mpi.loss.map((l) => l.toPrecision(5))).toEqual(out.ran.loss.map((l) => l.toPrecision(5)));
      expect(out.mpi.collectives).toEqual(out.ran.collectives);
    } else process.stderr.write('api run with transport mpi: skipped (no mpirun on PATH)\n');
  }, 180_000);
});

describe('compare()', () => {
  it('is the object `autopar compare --json` prints, and draws the strategies side by side', async () => {
    const apiHtml = path.join(tmp, 'api-compare.html');
    const cliHtml = path.join(tmp, 'cli-compare.html');
    const [api, cli] = await Promise.all([compare({ model: model('mlp.onnx'), cluster: CLUSTER2, html: apiHtml }), runJson(['compare', model('mlp.onnx'), '--cluster', CLUSTER2, '--html', cliHtml])]);
    expect({ ...api, html: '' }).toEqual({ ...(cli as object), html: '' });
    expect(api.html).toBe(apiHtml);
    expect(api.strategies.map((s) => s.strategy)).toEqual(['auto', 'dp', 'megatron', 'zero3', 'pipeline']);
    const page = fs.readFileSync(apiHtml, 'utf8');
    expect(fs.readFileSync(cliHtml, 'utf8')).toBe(page);
    expect(page).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect(page).toContain(`<b id="best">${api.best}</b>`);
    for (const s of api.strategies) {
      if (s.feasible) expect(page).toContain(`data-strategy="${s.strategy}" data-value="${s.stepTimeSeconds}"`);
      else expect(page).toContain(`data-rejected="${s.strategy}"`);
    }
  }, 120_000);
});

describe('sweep() and `compare --devices`', () => {
  it('plans each size, marks where adding devices stops paying by the stated rule, and draws it', async () => {
    const html = path.join(tmp, 'mlp.sweep.html');
    const seen: number[] = [];
    const r = await sweep({ model: model('mlp.onnx'), cluster: CLUSTER8, devices: [16, 2, 4, 8], html, onPoint: (p) => seen.push(p.devices) });
    expect(seen).toEqual([2, 4, 8, 16]);
    expect(r.points.map((p) => [p.devices, p.hosts])).toEqual([
      [2, 1],
      [4, 1],
      [8, 1],
      [16, 2],
    ]);
    expect(r.interHost.from).toBe('default');
    expect(r.strategies).toEqual(['dp', 'zero3', 'megatron', 'hybrid']);
    // hybrid only where there are several hosts, as dp=hosts,tp=devicesPerHost.
    expect(r.points[3]?.strategies.map((s) => s.strategy)).toContain('dp=2,tp=8');
    expect(r.points[0]?.strategies.map((s) => s.strategy)).not.toContain('hybrid');
    // The rule, recomputed from the figures.
    let prev: { n: number; t: number } | undefined;
    for (const p of r.points) {
      const t = p.throughputSamplesPerSecond;
      expect(t).not.toBeNull();
      if (t === null) continue;
      expect(p.samplesPerDeviceHour).toBeCloseTo((t * 3600) / p.devices, 3);
      if (prev) {
        const gain = (t - prev.t) / (p.devices - prev.n) / (prev.t / prev.n);
        expect(p.gain).toBeCloseTo(gain, 9);
        expect(p.pays).toBe(gain >= 0.5);
      } else expect(p.pays).toBeNull();
      prev = { n: p.devices, t };
    }
    const firstStop = r.points.find((p) => p.pays === false);
    expect(r.stopsPaying).toBe(firstStop?.devices ?? null);
    const page = fs.readFileSync(html, 'utf8');
    expect(page).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    for (const p of r.points) expect(page).toContain(`data-point="${p.devices}" data-value="${p.throughputSamplesPerSecond}"`);
    expect(page).toContain(`data-recommended="${r.recommended ?? ''}"`);
  }, 120_000);

  it('the CLI sweep on gpt2_tiny (8..64 devices of 1x8-a100): the table, --json and the chart; 8 is where it stops paying', async () => {
    const html = path.join(tmp, 'gpt2.sweep.html');
    const t0 = performance.now();
    const [json, text] = await Promise.all([
      runJson(['compare', model('gpt2_tiny.onnx'), '--cluster', CLUSTER8, '--loss', 'cross-entropy', '--devices', '8,16,32,64', '--html', html]),
      runCli(['compare', model('mlp.onnx'), '--cluster', CLUSTER8, '--devices', '8,16', '--min-gain', '0.25', '--html', path.join(tmp, 'mlp2.html')]),
    ]);
    const seconds = (performance.now() - t0) / 1000;
    const r = json as { points: { devices: number; hosts: number; best: string; pays: boolean | null }[]; recommended: number; stopsPaying: number; rule: { minGain: number }; html: string; batch: number };
    expect(r.points.map((p) => p.hosts)).toEqual([1, 2, 4, 8]);
    expect(r.batch).toBe(8);
    // A batch of 8 cannot keep more than 8 devices busy: the step grows beyond one host.
    expect(r.recommended).toBe(8);
    expect(r.stopsPaying).toBe(16);
    expect(r.rule.minGain).toBe(0.5);
    expect(fs.existsSync(r.html)).toBe(true);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^devices\s+hosts\s+best\s+step \(ms\)\s+samples\/s\s+samples\/device-h\s+gain\s+pays$/m);
    expect(text.stdout).toMatch(/^16\s+2\s+/m);
    expect(text.stdout).toContain('rule: adding devices pays while each added device brings at least 0.25 x');
    expect(text.stdout).toContain('between hosts ib-hdr (default; --inter-host to change)');
    process.stderr.write(`compare --devices 8,16,32,64 on gpt2_tiny (with mlp 8,16 beside it): ${seconds.toFixed(1)} s\n`);
  }, 120_000);

  it('refuses sizes that are not whole hosts, and sweep-only flags without --devices', async () => {
    await expect(sweep({ model: model('mlp.onnx'), cluster: CLUSTER8, devices: [8, 12] })).rejects.toThrow(/--devices 12: hosts of .*1x8-a100.yaml hold 8 devices/);
    await expect(sweep({ model: model('mlp.onnx'), cluster: CLUSTER8, devices: [0, 8] })).rejects.toThrow(/--devices 0: a cluster size is a whole number of devices, at least 1/);
    await expect(sweep({ model: model('mlp.onnx'), cluster: CLUSTER8, devices: [8], interHost: 'carrier-pigeon' })).rejects.toThrow(/--inter-host 'carrier-pigeon' is not a network preset; use one of .*ib-hdr/);
    const r = await runCli(['compare', model('mlp.onnx'), '--cluster', CLUSTER8, '--min-gain', '0.3']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--min-gain goes with --devices');
  });
});

describe('the training-loop example', () => {
  it('examples/train-gpt2-tiny.mjs compiles through the API, trains 5 steps, and the loss falls', async () => {
    const out = path.join(tmp, 'example');
    const r = await runNode([path.join(ROOT, 'examples', 'train-gpt2-tiny.mjs'), out, '5'], { timeoutMs: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    const parsed = JSON.parse(last) as { losses: number[]; collectives: unknown; plannedCollectives: unknown };
    expect(parsed.losses).toHaveLength(5);
    for (let i = 1; i < parsed.losses.length; i++) expect(parsed.losses[i]).toBeLessThan(parsed.losses[i - 1] ?? -Infinity);
    expect(parsed.collectives).toEqual(parsed.plannedCollectives);
    expect(r.stdout).toMatch(/planned gpt2_tiny\.onnx: megatron on 2 devices/);
    expect(fs.existsSync(path.join(out, 'report.html'))).toBe(true);
  }, 150_000);
});
