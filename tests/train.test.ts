/** Training graphs end to end: PyTorch's gradients, optimizer formulas, accumulation, convergence. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GraphBuilder } from '../src/ir/builder.js';
import { type HostTensor, hostTensor } from '../src/ir/host-tensor.js';
import { importOnnx } from '../src/onnx/import.js';
import { reduceSum } from '../src/ops/grad-util.js';
import { compareTensors } from '../src/reference/compare.js';
import { readReference } from '../src/reference/folder.js';
import { createTrainer } from '../src/runtime/train.js';
import { buildTrainingGraph, type TrainingGraph } from '../src/training/build.js';
import { customLoss } from '../src/training/losses.js';
import type { OptimizerConfig } from '../src/training/optimizers.js';
import { model, runJson } from './helpers/cli.js';
import { tempDir } from './helpers/onnx-builder.js';
import { Rng } from './helpers/random.js';

const TrainJson = z.object({
  outputs: z.record(z.string(), z.object({ maxRelError: z.number() })),
  loss: z.object({ value: z.number(), reference: z.number(), relError: z.number() }),
  gradients: z.object({ count: z.number(), maxRelError: z.number(), worst: z.string(), perTensor: z.record(z.string(), z.object({ maxRelError: z.number() })) }),
});

const tmp = tempDir('train');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('eval --train against PyTorch', () => {
  for (const name of ['mlp', 'gpt2_tiny']) {
    it(`${name}: loss within 1e-4, every initializer gradient within 1e-3`, async () => {
      const save = path.join(tmp, `${name}.saved`);
      const r = TrainJson.parse(await runJson(['eval', model(`${name}.onnx`), '--reference', model(`${name}.reference`), '--train', '--save', save]));
      const manifest = readReference(model(`${name}.reference`)).manifest;
      expect(r.loss.relError).toBeLessThanOrEqual(1e-4);
      expect(r.gradients.count).toBe(Object.keys(manifest.gradients ?? {}).length);
      for (const [k, e] of Object.entries(r.gradients.perTensor)) expect(e.maxRelError, k).toBeLessThanOrEqual(1e-3);
      for (const e of Object.values(r.outputs)) expect(e.maxRelError).toBeLessThanOrEqual(1e-4);
      // The saved folder is itself a reference another tool can compare against.
      const saved = readReference(save);
      expect(saved.manifest.loss?.value).toBeCloseTo(r.loss.value, 6);
      const ref = readReference(model(`${name}.reference`));
      for (const [k, e] of Object.entries(ref.manifest.gradients ?? {})) {
        const mine = saved.manifest.gradients?.[k];
        expect(mine, k).toBeDefined();
        if (mine) expect(compareTensors(saved.read(mine), ref.read(e)).maxRelError).toBeLessThanOrEqual(1e-3);
      }
    });
  }
});

function randomTokens(rng: Rng, shape: number[], vocab: number): HostTensor {
  return hostTensor('int64', shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.int(0, vocab)));
}

describe('training steps', () => {
  it('50 Adam steps on gpt2_tiny with a fixed batch lower the loss by at least half', async () => {
    const { graph } = importOnnx(model('gpt2_tiny_opset17.onnx'), { dims: { batch: 1 } });
    const tg = buildTrainingGraph(graph, { loss: 'cross_entropy', optimizer: { kind: 'adam', lr: 3e-3 } });
    const rng = new Rng(7);
    const feeds = new Map([[graph.inputs[0]?.name ?? '', randomTokens(rng, [1, 64], 512)], [tg.target, randomTokens(rng, [1, 64], 512)]]);
    const trainer = createTrainer(tg);
    const losses: number[] = [];
    for (let i = 0; i < 50; i++) losses.push((await trainer.step([feeds])).loss);
    const first = losses[0] ?? NaN;
    const last = losses[losses.length - 1] ?? NaN;
    expect(first).toBeGreaterThan(5); // ln(512) = 6.2 for an untrained model
    expect(last).toBeLessThanOrEqual(first / 2);
  }, 120_000);

  it('accumulating two micro-batches gives the gradients and update of one batch', async () => {
    const rng = new Rng(11);
    const idx = randomTokens(rng, [2, 64], 512);
    const tgt = randomTokens(rng, [2, 64], 512);
    const half = (t: HostTensor, i: number): HostTensor => hostTensor('int64', [1, 64], t.data.slice(i * 64, (i + 1) * 64));
    const opt: OptimizerConfig = { kind: 'sgd', lr: 0.1, momentum: 0.9 };
    const whole = importOnnx(model('gpt2_tiny_opset17.onnx'), { dims: { batch: 2 } }).graph;
    const micro = importOnnx(model('gpt2_tiny_opset17.onnx'), { dims: { batch: 1 } }).graph;
    const tw = buildTrainingGraph(whole, { loss: 'cross_entropy', optimizer: opt });
    const tm = buildTrainingGraph(micro, { loss: 'cross_entropy', optimizer: opt });
    const inName = whole.inputs[0]?.name ?? '';
    const a = await createTrainer(tw).step([new Map([[inName, idx], [tw.target, tgt]])]);
    const b = await createTrainer(tm).step([0, 1].map((i) => new Map([[inName, half(idx, i)], [tm.target, half(tgt, i)]])));
    expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-5);
    for (const [p, g] of a.grads) {
      const other = b.grads.get(p);
      expect(other, p).toBeDefined();
      if (other) expect(compareTensors(other, g).maxRelError, p).toBeLessThan(1e-4);
    }
    for (const p of tw.params) {
      const x = a.state.get(p);
      const y = b.state.get(p);
      if (x && y) expect(compareTensors(y, x).maxRelError, p).toBeLessThan(1e-5);
    }
  }, 60_000);
});

/** loss = Σ p·r: its gradient is the constant r, so updates can be computed by hand. */
function linearProblem(values: readonly number[], opt: OptimizerConfig): TrainingGraph {
  const b = GraphBuilder.empty(17);
  const p = b.initializer('p', hostTensor('float32', [values.length], values), { dtype: 'float32', shape: [values.length] });
  const x = b.input('x', { dtype: 'float32', shape: [values.length] });
  const y = b.op('Mul', [p, x]);
  // A user-defined loss, given as a small graph: Σ output·target.
  const loss = customLoss((t) => t, (bb, out, target) => reduceSum(bb, bb.op('Mul', [out, target]), [0], false));
  return buildTrainingGraph(b.build([y]), { loss, optimizer: opt });
}

describe('optimizers follow torch.optim', () => {
  const p0 = [0.5, -1.5, 2];
  const r = [0.3, -0.2, 1.1];
  const ones = hostTensor('float32', [3], [1, 1, 1]);
  const target = hostTensor('float32', [3], r);

  async function run(opt: OptimizerConfig, steps: number): Promise<number[]> {
    const tg = linearProblem(p0, opt);
    const trainer = createTrainer(tg);
    let st;
    for (let i = 0; i < steps; i++) st = await trainer.step([new Map([['x', ones], [tg.target, target]])]);
    return Array.from(st?.state.get('p')?.data ?? []);
  }

  // Reference implementations of PyTorch's documented update rules, in float64.
  function expected(opt: OptimizerConfig, steps: number): number[] {
    return p0.map((p, i) => {
      const g0 = r[i] ?? 0;
      let [m, v, buf, x] = [0, 0, 0, p];
      for (let t = 1; t <= steps; t++) {
        switch (opt.kind) {
          case 'sgd': {
            const g = g0 + (opt.weightDecay ?? 0) * x;
            buf = opt.momentum ? (t === 1 ? g : opt.momentum * buf + g) : g;
            x -= opt.lr * buf;
            break;
          }
          case 'adam':
          case 'adamw': {
            const [b1, b2, eps, wd] = [opt.beta1 ?? 0.9, opt.beta2 ?? 0.999, opt.eps ?? 1e-8, opt.weightDecay ?? (opt.kind === 'adamw' ? 0.01 : 0)];
            const g = opt.kind === 'adam' ? g0 + wd * x : g0;
            if (opt.kind === 'adamw') x *= 1 - opt.lr * wd;
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g * g;
            const mh = m / (1 - b1 ** t);
            const vh = v / (1 - b2 ** t);
            x -= (opt.lr * mh) / (Math.sqrt(vh) + eps);
            break;
          }
        }
      }
      return x;
    });
  }

  const configs: OptimizerConfig[] = [
    { kind: 'sgd', lr: 0.1 },
    { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.01 },
    { kind: 'adam', lr: 0.05 },
    { kind: 'adam', lr: 0.05, weightDecay: 0.1 },
    { kind: 'adamw', lr: 0.05, weightDecay: 0.1 },
  ];
  for (const opt of configs) {
    it(`${JSON.stringify(opt)}: three steps`, async () => {
      const got = await run(opt, 3);
      const want = expected(opt, 3);
      got.forEach((g, i) => expect(g).toBeCloseTo(want[i] ?? NaN, 5));
    });
  }

  it('keeps optimizer states in the graph as initializers (visible to the planner)', () => {
    const tg = linearProblem(p0, { kind: 'adam', lr: 0.1 });
    const states = [...tg.states.keys()];
    expect(states.length).toBe(3); // m, v and the step count
    for (const s of states) expect(tg.graph.initializers.has(s)).toBe(true);
  });
});
