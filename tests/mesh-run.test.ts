/**
 * One-mesh plans run as device programs on worker threads (and MPI processes): the
 * strategies of the CLI compiled from the reference models, one step from the
 * reference's weights and inputs against PyTorch's loss and gradients; several Adam
 * steps against the single-device trainer; the collective calls and bytes the workers
 * counted against plan.json's, per kind; the printed tfjs modules parse.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { countCommunication } from '../src/emit/program.js';
import { verifyPrograms } from '../src/emit/verify.js';
import { lowerCompiled } from '../src/planner/device-programs.js';
import { planModel } from '../src/planner/plan-model.js';
import { readReference } from '../src/reference/folder.js';
import { findMpirun } from '../src/runtime/collectives/mpi/launcher.js';
import { batchFor } from '../src/runtime/pipeline/run-plan.js';
import { prepareMeshRun, runMeshPlan } from '../src/runtime/spmd/run-mesh.js';
import type { HostTensor } from '../src/ir/host-tensor.js';
import { createTrainer, type Trainer } from '../src/runtime/train.js';
import { compareTensors } from '../src/reference/compare.js';
import { runOrt } from './helpers/ort.js';
import type { TrainingGraph } from '../src/training/build.js';
import { model, runCli, runNode } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autopar-mesh-run-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A trainer step, after letting timers run: a step is synchronous work, and 20 in a row would block vitest's worker. */
async function stepYielding(trainer: Trainer, feeds: ReadonlyMap<string, HostTensor>): Promise<{ loss: number }> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return trainer.step([feeds]);
}

/** The training graph of a training plan's folder. */
function trainingOf(dir: string): TrainingGraph {
  const tg = prepareMeshRun(dir).tg;
  if (!tg) throw new Error(`${dir} holds an inference plan`);
  return tg;
}

const compiledDirs = new Map<string, Promise<string>>();

/** `autopar compile` in a child process (planning is long and synchronous: it must not block vitest's worker), once per plan. */
function compiled(name: string, devices: number, strategy: string, mode: 'train' | 'infer' = 'train'): Promise<string> {
  const key = `${name}|${devices}|${strategy}|${mode}`;
  let dir = compiledDirs.get(key);
  if (!dir) compiledDirs.set(key, (dir = compileOnce(name, devices, strategy, mode)));
  return dir;
}

async function compileOnce(name: string, devices: number, strategy: string, mode: 'train' | 'infer'): Promise<string> {
  const dir = path.join(tmp, `${name}-${strategy.replace(/[^a-z0-9]/gi, '_')}-${devices}-${mode}`);
  const ref = readReference(model(`${name}.reference`));
  const loss = ref.manifest.loss?.kind === 'cross_entropy' ? 'cross-entropy' : 'mse';
  const r = await runCli(['compile', model(`${name}.onnx`), '--cluster', `examples/clusters/1x${devices}-a100.yaml`, '--strategy', strategy, '--loss', loss, '--mode', mode, '--out', dir, '--json']);
  expect(r.stderr).toBe('');
  expect(fs.existsSync(path.join(dir, 'devices', 'device-0.json'))).toBe(true);
  return dir;
}

describe('one-mesh plans against PyTorch', () => {
  for (const [name, devices, strategy] of [
    ['gpt2_tiny', 2, 'megatron'],
    ['gpt2_tiny', 4, 'dp=2,tp=2'],
    ['mlp', 8, 'zero3'],
    ['mlp', 2, 'dp'],
  ] as const) {
    it(`${name}, ${strategy} on ${devices} devices: loss within 1e-4, gradients within 1e-3, counted bytes = plan.json's`, async () => {
      const dir = await compiled(name, devices, strategy);
      const ref = readReference(model(`${name}.reference`));
      const r = await runMeshPlan(dir, { reference: model(`${name}.reference`) });
      const want = ref.manifest.loss?.value ?? NaN;
      expect(Math.abs((r.loss[0] ?? NaN) - want) / Math.abs(want)).toBeLessThan(1e-4);
      const outputs = Object.values(r.outputs ?? {});
      expect(outputs).toHaveLength(1);
      expect(outputs[0]?.maxRelError).toBeLessThan(1e-4);
      expect(r.gradients?.count).toBe(Object.keys(ref.manifest.gradients ?? {}).length);
      expect(r.gradients?.maxRelError).toBeLessThan(1e-3);
      expect(Object.keys(r.plannedCollectives).length).toBeGreaterThan(0);
      expect(r.collectives).toEqual(r.plannedCollectives);
      // The programs' own counts are the prediction too (what verification saw).
      const programs = prepareMeshRun(dir).programs;
      const fromPrograms: Record<string, { count: number; bytes: number }> = {};
      for (const p of programs) for (const [k, v] of Object.entries(countCommunication(p))) {
        const e = (fromPrograms[k] ??= { count: 0, bytes: 0 });
        e.count += v.count;
        e.bytes += v.bytes;
      }
      expect(fromPrograms).toEqual(r.plannedCollectives);
    }, 120_000);
  }
});

describe('one-mesh plans against the single-device trainer', () => {
  for (const [name, devices, strategy, steps] of [
    // (megatron on mlp drifts past 1e-4 from step 13 as the loss falls 9x: Adam's
    // g/(|g|+eps) turns float noise in gradients of ~1e-10 into visible updates; see bench/mesh-run.)
    ['mlp', 2, 'zero3', 20],
    ['gpt2_tiny', 2, 'auto', 3],
  ] as const) {
    it(`${name}, ${strategy} on ${devices} devices, ${steps} Adam steps: the same losses within 1e-4`, async () => {
      const dir = await compiled(name, devices, strategy);
      const r = await runMeshPlan(dir, { steps, reference: model(`${name}.reference`) });
      const tg = trainingOf(dir);
      const { full } = batchFor(tg, name === 'mlp' ? 'mse' : 'cross-entropy', dir, model(`${name}.reference`), 17);
      const trainer = createTrainer(tg);
      const losses: number[] = [];
      for (let k = 0; k < steps; k++) losses.push((await stepYielding(trainer, full)).loss);
      expect(r.loss).toHaveLength(steps);
      r.loss.forEach((l, k) => expect(Math.abs(l - (losses[k] ?? NaN)) / Math.abs(losses[k] ?? 1), `step ${k}`).toBeLessThan(1e-4));
      expect(losses[steps - 1]).toBeLessThan(losses[0] ?? 0);
    }, 120_000);
  }
});

describe('inference plans: the forward pass as device programs', () => {
  for (const [name, devices, strategy] of [
    ['gpt2_tiny', 4, 'dp=2,tp=2'],
    ['mlp', 8, 'megatron'],
  ] as const) {
    it(`${name}, ${strategy} on ${devices} devices: outputs within 1e-4 of PyTorch's and of onnxruntime's, counted bytes = plan.json's`, async () => {
      const dir = await compiled(name, devices, strategy, 'infer');
      const r = await runMeshPlan(dir, { reference: model(`${name}.reference`), steps: 2 });
      expect(r.mode).toBe('infer');
      expect(r.loss).toEqual([]);
      const prep = prepareMeshRun(dir);
      expect(prep.tg).toBeUndefined();
      // Every output of the model, against the reference's.
      expect(Object.keys(r.outputs ?? {})).toEqual(prep.graph.outputs);
      for (const e of Object.values(r.outputs ?? {})) expect(e.maxRelError).toBeLessThan(1e-4);
      // A sharded plan: the programs communicate, as planned, on both passes.
      expect(Object.keys(r.plannedCollectives).length).toBeGreaterThan(0);
      expect(r.collectives).toEqual(r.plannedCollectives);
      // On other inputs (seeded, no reference), against onnxruntime on one device.
      const own = await runMeshPlan(dir);
      expect(own.outputs).toBeUndefined();
      const want = await runOrt(model(`${name}.onnx`), prep.feeds);
      prep.graph.outputs.forEach((o, k) => {
        const got = own.outputTensors[k];
        const w = want.get(o);
        if (!got || !w) throw new Error(`no output '${o}'`);
        expect(got.shape).toEqual(w.shape);
        expect(compareTensors(got, w).maxRelError, o).toBeLessThan(1e-4);
      });
    }, 120_000);
  }
});

describe('a one-device mesh', () => {
  it('runs the same arithmetic as the single-device trainer: 5 Adam steps of mlp with equal losses, and no collectives', async () => {
    const cluster = path.join(tmp, '1x1.yaml');
    fs.writeFileSync(cluster, 'hosts: 1\ndevicesPerHost: 1\ndevice: A100-80GB\nintraHost: {bandwidth: 300GB/s, latency: 5us}\n');
    const dir = path.join(tmp, 'mlp-1x1');
    const c = await runCli(['compile', model('mlp.onnx'), '--cluster', cluster, '--out', dir, '--json']);
    expect(c.stderr).toBe('');
    const r = await runMeshPlan(dir, { steps: 5, reference: model('mlp.reference') });
    const tg = trainingOf(dir);
    const { full } = batchFor(tg, 'mse', dir, model('mlp.reference'), 17);
    const trainer = createTrainer(tg);
    const losses: number[] = [];
    for (let k = 0; k < 5; k++) losses.push((await stepYielding(trainer, full)).loss);
    expect(r.loss).toEqual(losses);
    expect(r.collectives).toEqual({});
    expect(r.plannedCollectives).toEqual({});
  }, 120_000);
});

describe('device programs as files', () => {
  it('the verifier rejects a lowered set with a dropped collective or two collectives swapped', async () => {
    const planned = await planModel({ model: model('mlp.onnx'), cluster: 'examples/clusters/1x2-a100.yaml', strategy: 'megatron', loss: 'mse' });
    if (!planned.compiled) throw new Error('a one-mesh plan was expected');
    const set = lowerCompiled(planned.compiled);
    expect(verifyPrograms(set).ok).toBe(true);
    const p1 = set.programs[1];
    if (!p1) throw new Error('two programs were expected');
    const at = p1.instructions.map((ins, i) => (ins.kind === 'collective' ? i : -1)).filter((i) => i >= 0);
    expect(at.length).toBeGreaterThan(1);
    const dropped = { ...set, programs: [set.programs[0], { ...p1, instructions: p1.instructions.filter((_, i) => i !== at[0]) }] as typeof set.programs };
    expect(verifyPrograms(dropped).ok).toBe(false);
    const [a, b] = [at[0] ?? 0, at[1] ?? 0];
    const swappedList = p1.instructions.map((ins, i) => (i === a ? p1.instructions[b] : i === b ? p1.instructions[a] : ins)).filter((x) => x !== undefined);
    const swapped = { ...set, programs: [set.programs[0], { ...p1, instructions: swappedList }] as typeof set.programs };
    const report = verifyPrograms(swapped);
    // Device 1 now reaches a collective early: its input is not yet defined, and the order
    // no longer matches device 0's.
    expect(report.ok).toBe(false);
    expect(report.problems.length).toBeGreaterThan(0);
  }, 120_000);

  it('every printed tfjs module parses as JavaScript', async () => {
    const dir = await compiled('gpt2_tiny', 2, 'megatron');
    for (const d of [0, 1]) {
      const file = path.join(dir, 'devices', `device-${d}.mjs`);
      const text = fs.readFileSync(file, 'utf8');
      expect(text).toMatch(/export async function step\(/);
      expect(text).toMatch(/await comm\.allReduce\(/);
      const check = await runNode(['--check', file]);
      expect(check.stderr).toBe('');
      expect(check.status).toBe(0);
    }
  }, 120_000);

  const mpirun = findMpirun();
  it.skipIf(!mpirun)(`the same run as MPI processes gives the same numbers${mpirun ? '' : ' (skipped: mpirun not found; .ci/run installs Open MPI)'}`, async () => {
    const dir = await compiled('gpt2_tiny', 2, 'megatron');
    const threads = await runMeshPlan(dir, { steps: 2, reference: model('gpt2_tiny.reference') });
    const mpi = await runMeshPlan(dir, { steps: 2, reference: model('gpt2_tiny.reference'), transport: 'mpi' });
    expect(mpi.loss).toEqual(threads.loss);
    expect(mpi.gradients).toEqual(threads.gradients);
    expect(mpi.collectives).toEqual(threads.collectives);
    expect(mpi.collectives).toEqual(mpi.plannedCollectives);
  }, 120_000);
});
