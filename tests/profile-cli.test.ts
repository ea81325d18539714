/**
 * `autopar profile` through the built CLI: writes a loadable profile with the runtime's
 * collectives, prints JSON on request; `compile --profile FILE` plans with it, compute
 * and collectives.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { busBandwidthFactor } from '../cost-models/collectives.js';
import { loadProfile, saveProfile, type Profile } from '../cost-models/profile.js';
import { syntheticProfile } from './helpers/profile.js';
import type { CollectiveKind } from '../cost-models/types.js';
import { runNode } from './helpers/cli.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const TMP = mkdtempSync(path.join(tmpdir(), 'autopar-profile-cli-'));
const PLANS = mkdtempSync(path.join(tmpdir(), 'autopar-profile-plans-'));
afterAll(() => {
  rmSync(TMP, { recursive: true, force: true });
  rmSync(PLANS, { recursive: true, force: true });
});

it('autopar profile --quick --out FILE --json writes the file and prints it', async () => {
  const out = path.join(TMP, 'machine.json');
  const r = await runNode([MAIN, 'profile', '--quick', '--out', out, '--json'], { timeoutMs: 120_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const printed = JSON.parse(r.stdout) as { file: string; summary: { matmulFlops: number } };
  expect(printed.file).toBe(out);
  const saved = loadProfile(out);
  expect(saved.summary.matmulFlops).toBe(printed.summary.matmulFlops);
  expect(saved.summary.matmulFlops).toBeGreaterThan(0);
  expect(readdirSync(TMP)).toEqual(['machine.json']);
});

it('profile --quick --out F measures the collectives (positive alpha, beta), and compile --profile F prices them with those figures', async () => {
  const out = path.join(TMP, 'collectives.json');
  const started = performance.now();
  const r = await runNode([MAIN, 'profile', '--quick', '--out', out], { timeoutMs: 120_000 });
  const seconds = (performance.now() - started) / 1000;
  expect(r.status, r.stderr).toBe(0);
  expect(seconds).toBeLessThan(30); // --quick stays quick (about 4 s here, more under load)
  expect(r.stdout).toMatch(/all-reduce x2 +alpha .*, link .*\(threads; fit within \d+% over 4 sizes\)/);
  const c = loadProfile(out).collectives;
  if (c === null) throw new Error('profile --quick wrote collectives: null');
  expect(c.transport).toBe('threads');
  expect(c.fits.map((f) => `${f.kind} x${f.ranks}`)).toEqual(expect.arrayContaining(['all-reduce x2', 'all-gather x2', 'reduce-scatter x2', 'all-to-all x2']));
  for (const f of c.fits) {
    expect(f.alpha, `${f.kind} alpha`).toBeGreaterThan(0);
    expect(f.beta, `${f.kind} beta`).toBeGreaterThan(0);
  }
  expect(c.points.filter((p) => p.kind === 'all-reduce' && p.ranks === 2).map((p) => p.bytes)).toEqual([4096, 65536, 1 << 20, 16 << 20]);

  // resnet18 under dp on one host of 2 devices: gradient all-reduces (and others) on an
  // intra-host axis, each priced as its kind's fit on 2 ranks: alpha + factor*bytes*beta
  const dir = path.join(PLANS, 'plan-measured');
  const args = [MAIN, 'compile', path.join(ROOT, 'tests', 'fixtures', 'models', 'resnet18.onnx'), '--cluster', path.join(ROOT, 'examples', 'clusters', '1x2-a100.yaml'), '--strategy', 'dp', '--profile', out, '--out', dir, '--json'];
  const compiled = await runNode(args, { timeoutMs: 120_000 });
  expect(compiled.stderr).toBe('');
  expect(compiled.status).toBe(0);
  const plan = JSON.parse(readFileSync(path.join(dir, 'plan.json'), 'utf8')) as {
    cost: { costModel: string };
    stages: { collectives: { kind: CollectiveKind; group: number[]; bytes: number; seconds: number }[] }[];
  };
  expect(plan.cost.costModel).toMatch(/^calibrated \(.*; threads collectives\)$/);
  const collectives = plan.stages.flatMap((s) => s.collectives);
  const allReduces = collectives.filter((x) => x.kind === 'all-reduce').length;
  expect(allReduces).toBeGreaterThan(0);
  let priced = 0;
  for (const x of collectives) {
    const fit = c.fits.find((f) => f.kind === x.kind && f.ranks === 2);
    if (!fit) continue; // broadcast, send, recv: priced with the all-gather fit (profile-collectives.test.ts)
    expect(x.group).toHaveLength(2);
    const want = fit.alpha + busBandwidthFactor(x.kind, 2) * x.bytes * fit.beta;
    expect(Math.abs(x.seconds - want) / want, `${x.kind} of ${x.bytes} bytes: ${x.seconds} s, fit gives ${want} s`).toBeLessThan(1e-9);
    priced++;
  }
  expect(priced).toBeGreaterThanOrEqual(allReduces);
}, 180_000);

it('an unknown --transport is a one-line usage error, before anything is measured', async () => {
  const r = await runNode([MAIN, 'profile', '--quick', '--transport', 'nccl', '--out', path.join(TMP, 'never.json')], { timeoutMs: 60_000 });
  expect(r.status).toBe(2);
  expect(r.stderr).toBe('autopar: --transport nccl: expected threads (worker threads over shared memory, the default) or mpi (processes under mpirun)\n');
});

it('an unwritable --out is a one-line error', async () => {
  const r = await runNode([MAIN, 'profile', '--quick', '--out', path.join(TMP, 'no', 'such', 'dir.json')], { timeoutMs: 120_000 });
  expect(r.status).not.toBe(0);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/cannot write profile to .*dir\.json/);
});

/** A profile whose every rate is `rate` (FLOP/s for matmul and conv, bytes/s for add), at two sizes each. */
function profileAt(rate: number): Profile {
  const at = (label: string, flops: number, bytes: number, work: number) => ({ label, flops, bytes, seconds: work / rate });
  return syntheticProfile(
    {
      matmul: [at('64x64x64', 2 * 64 ** 3, 12 * 64 ** 2, 2 * 64 ** 3), at('512x512x512', 2 * 512 ** 3, 12 * 512 ** 2, 2 * 512 ** 3)],
      conv: [at('conv a', 1e6, 1e4, 1e6), at('conv b', 1e9, 1e6, 1e9)],
      elementwise: [at('add 16384', 16384, 12 * 16384, 12 * 16384), at('add 1048576', 1 << 20, 12 << 20, 12 << 20)],
    },
    { matmulFlops: rate, convFlops: rate, memoryBandwidth: rate },
  );
}

it('compile --profile FILE plans with the calibrated model: half the measured rates, twice the compute time', async () => {
  const cost = async (profile: string | undefined, out: string): Promise<{ costModel: string; computeSeconds: number }> => {
    const dir = path.join(PLANS, out);
    const args = [MAIN, 'compile', path.join(ROOT, 'tests', 'fixtures', 'models', 'mlp.onnx'), '--cluster', path.join(ROOT, 'examples', 'clusters', '1x4-a100.yaml'), '--strategy', 'dp', '--out', dir, '--json'];
    const r = await runNode(profile === undefined ? args : [...args, '--profile', profile], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const plan = JSON.parse(readFileSync(path.join(dir, 'plan.json'), 'utf8')) as { cost: { costModel: string; computeSeconds: number } };
    return plan.cost;
  };
  const fast = path.join(PLANS, 'fast.json');
  const slow = path.join(PLANS, 'slow.json');
  saveProfile(profileAt(2e9), fast);
  saveProfile(profileAt(1e9), slow);
  const [analytical, atFast, atSlow] = await Promise.all([cost(undefined, 'plan-analytical'), cost(fast, 'plan-fast'), cost(slow, 'plan-slow')]);
  expect(analytical.costModel).toBe('analytical');
  expect(atFast.costModel).toBe('calibrated (synthetic on test)');
  expect(atSlow.computeSeconds).toBeGreaterThan(0);
  // every measured rate halves, so each op's time doubles; the solver may still trade a
  // little compute for communication (which the profile leaves analytical), hence not exactly 2
  expect(atSlow.computeSeconds / atFast.computeSeconds).toBeCloseTo(2, 2);
  // a 2 GFLOP/s machine is far slower than an A100
  expect(atFast.computeSeconds).toBeGreaterThan(100 * analytical.computeSeconds);
}, 180_000);
