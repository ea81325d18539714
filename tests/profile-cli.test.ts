/** `autopar profile` through the built CLI: writes a loadable profile, prints JSON on request; `compile --profile FILE` plans with it. */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { PROFILE_VERSION, loadProfile, saveProfile, type Profile } from '../cost-models/profile.js';
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

it('an unwritable --out is a one-line error', async () => {
  const r = await runNode([MAIN, 'profile', '--quick', '--out', path.join(TMP, 'no', 'such', 'dir.json')], { timeoutMs: 120_000 });
  expect(r.status).not.toBe(0);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/cannot write profile to .*dir\.json/);
});

/** A profile whose every rate is `rate` (FLOP/s for matmul and conv, bytes/s for add), at two sizes each. */
function syntheticProfile(rate: number): Profile {
  const at = (label: string, flops: number, bytes: number, work: number) => ({ label, flops, bytes, seconds: work / rate });
  return {
    version: PROFILE_VERSION,
    createdAt: '2026-01-01T00:00:00.000Z',
    backend: 'synthetic',
    clock: 'cpu',
    machine: { platform: 'linux', arch: 'x64', cpus: 1, cpuModel: 'test', totalMemoryBytes: 8e9, node: 'v0' },
    dtype: 'float32',
    samples: {
      matmul: [at('64x64x64', 2 * 64 ** 3, 12 * 64 ** 2, 2 * 64 ** 3), at('512x512x512', 2 * 512 ** 3, 12 * 512 ** 2, 2 * 512 ** 3)],
      conv: [at('conv a', 1e6, 1e4, 1e6), at('conv b', 1e9, 1e6, 1e9)],
      elementwise: [at('add 16384', 16384, 12 * 16384, 12 * 16384), at('add 1048576', 1 << 20, 12 << 20, 12 << 20)],
    },
    summary: { matmulFlops: rate, convFlops: rate, memoryBandwidth: rate },
    collectives: null,
  };
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
  saveProfile(syntheticProfile(2e9), fast);
  saveProfile(syntheticProfile(1e9), slow);
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
