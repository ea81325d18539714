/**
 * `autopar run` through the built CLI: a pipelined plan (one device per stage) compiled,
 * then trained on worker threads from the reference folder (gradients against
 * PyTorch's, bytes sent and received equal to what plan.json predicts), and again as
 * processes under mpirun with the same numbers; a one-mesh plan from its device
 * programs; an inference plan's forward passes against the reference's outputs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { findMpirun } from '../src/runtime/collectives/mpi/launcher.js';
import { CLI, type CliResult, model, runCli, runJson, runProcess } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autopar-run-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const Kind = z.object({ count: z.number(), bytes: z.number() });
const RunJson = z.object({
  devices: z.number(),
  steps: z.number(),
  loss: z.array(z.number()),
  gradients: z.object({ count: z.number(), maxRelError: z.number(), worst: z.string() }),
  collectives: z.record(z.string(), Kind),
  plannedCollectives: z.record(z.string(), Kind),
});

/** `mpirun -np 2 node CLI worker DIR --steps N --reference ...`, spawned without blocking. */
function mpirunWorker(dir: string, steps: number): Promise<CliResult> {
  const asRoot = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];
  return runProcess(findMpirun() ?? 'mpirun', [...asRoot, '--oversubscribe', '-np', '2', process.execPath, CLI, 'worker', dir, '--steps', String(steps), '--reference', model('gpt2_tiny.reference')]);
}

describe('autopar run', () => {
  it('trains gpt2_tiny on 2 pipeline stages: gradients within 1e-3 of PyTorch, bytes as planned, loss going down', async () => {
    const out = path.join(tmp, 'pp2');
    await runJson(['compile', model('gpt2_tiny.onnx'), '--cluster', 'examples/clusters/1x2-a100.yaml', '--loss', 'cross-entropy', '--strategy', 'dp=1,tp=1,pp=2', '--out', out]);
    const r = RunJson.parse(await runJson(['run', out, '--reference', model('gpt2_tiny.reference'), '--steps', '3']));
    expect(r.devices).toBe(2);
    expect(r.loss).toHaveLength(3);
    const reference = JSON.parse(fs.readFileSync(path.join(model('gpt2_tiny.reference'), 'manifest.json'), 'utf8')) as { loss: { value: number } };
    expect(Math.abs((r.loss[0] ?? NaN) - reference.loss.value) / reference.loss.value).toBeLessThan(1e-4);
    expect(r.loss[2]).toBeLessThan(r.loss[0] ?? 0);
    expect(r.gradients.count).toBeGreaterThan(20);
    expect(r.gradients.maxRelError).toBeLessThan(1e-3);
    for (const kind of ['send', 'recv']) {
      expect(r.collectives[kind]?.bytes, kind).toBeGreaterThan(0);
      expect(r.collectives[kind]?.bytes, kind).toBe(r.plannedCollectives[kind]?.bytes);
    }
    // The same run as separate processes under mpirun: the same numbers.
    if (!findMpirun()) {
      console.warn('SKIPPED: autopar run --transport mpi (mpirun is not on PATH; .ci/run installs Open MPI)');
      return;
    }
    const mpi = RunJson.parse(await runJson(['run', out, '--reference', model('gpt2_tiny.reference'), '--steps', '3', '--transport', 'mpi']));
    expect(mpi.loss).toEqual(r.loss);
    expect(mpi.gradients).toEqual(r.gradients);
    expect(mpi.collectives.send).toEqual(r.collectives.send);
    expect(mpi.collectives.recv).toEqual(r.collectives.recv);
    // And as a user starts it across hosts: mpirun -np 2 autopar worker DIR, one JSON line per rank.
    const worker = await mpirunWorker(out, 3);
    expect(worker.status, worker.stderr).toBe(0);
    const lines = worker.stdout.trim().split('\n').map((l) => z.object({ rank: z.number(), loss: z.array(z.number()) }).parse(JSON.parse(l)));
    expect(lines.map((l) => l.rank).sort()).toEqual([0, 1]);
    expect(lines.find((l) => l.rank === 1)?.loss).toEqual(r.loss);
  }, 120_000);

  it('runs a one-mesh plan from its device programs, and refuses, in one line, a plan without them and a bad --steps', async () => {
    const out = path.join(tmp, 'sharded');
    await runJson(['compile', model('mlp.onnx'), '--cluster', 'examples/clusters/1x2-a100.yaml', '--strategy', 'megatron', '--out', out]);
    const ran = RunJson.parse(await runJson(['run', out, '--reference', model('mlp.reference')]));
    expect(ran.devices).toBe(2);
    expect(ran.gradients.maxRelError).toBeLessThan(1e-3);
    expect(ran.collectives).toEqual(ran.plannedCollectives);
    expect(Object.keys(ran.collectives).length).toBeGreaterThan(0);
    fs.rmSync(path.join(out, 'devices'), { recursive: true });
    const [missing, steps] = await Promise.all([runCli(['run', out]), runCli(['run', out, '--steps', 'x'])]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/a one-mesh plan runs from the device programs in .*devices, which are missing; compile it again/);
    expect(steps.stderr).toMatch(/--steps x: give a whole number of steps/);
  }, 120_000);

  it('runs an inference plan: forward passes on the devices, every output against the reference, no loss', async () => {
    const out = path.join(tmp, 'serve');
    await runJson(['compile', model('mlp.onnx'), '--cluster', 'examples/clusters/1x2-a100.yaml', '--mode', 'infer', '--strategy', 'megatron', '--out', out]);
    const json = z
      .object({ mode: z.literal('infer'), devices: z.number(), steps: z.number(), loss: z.array(z.number()).length(0), outputs: z.record(z.string(), z.object({ maxAbsError: z.number(), maxRelError: z.number() })), collectives: z.record(z.string(), Kind), plannedCollectives: z.record(z.string(), Kind) })
      .parse(await runJson(['run', out, '--reference', model('mlp.reference'), '--steps', '2']));
    expect(json.devices).toBe(2);
    expect(Object.keys(json.outputs)).toHaveLength(1);
    for (const e of Object.values(json.outputs)) expect(e.maxRelError).toBeLessThan(1e-4);
    expect(Object.keys(json.collectives).length).toBeGreaterThan(0);
    expect(json.collectives).toEqual(json.plannedCollectives);
    const text = await runCli(['run', out, '--reference', model('mlp.reference')]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^inference {3}1 forward pass$/m);
    expect(text.stdout).toMatch(/^output {6}\S+ against the reference, maxRelError \d\.\d\de-\d+$/m);
    expect(text.stdout).not.toMatch(/^loss/m);
  }, 120_000);
});
