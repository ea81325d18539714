/**
 * The autodiff pass's own contract, apart from any single gradient rule: gradients of a
 * value used several times are summed, and branches that do not lead from a trained
 * value to the loss get no backward nodes.
 */
import { describe, expect, it } from 'vitest';
import { differentiate } from '../passes/autodiff.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { type HostTensor, hostTensor } from '../src/ir/host-tensor.js';
import type { Graph } from '../src/ir/types.js';
import { importOnnx } from '../src/onnx/import.js';
import { reduceSum } from '../src/ops/grad-util.js';
import { execute } from '../src/runtime/executor.js';
import { buildTrainingGraph } from '../src/training/build.js';
import { model } from './helpers/cli.js';

const P = [0.5, -1.25, 2];
const C = [0.3, -0.7, 1.1];

function param(b: GraphBuilder, name: string, values: readonly number[]): string {
  return b.initializer(name, hostTensor('float32', [values.length], values), { dtype: 'float32', shape: [values.length] });
}

async function gradOf(g: Graph, loss: string, wrt: readonly string[], outputs: readonly string[] = [loss]): Promise<Map<string, HostTensor>> {
  const d = differentiate(g, loss, wrt, outputs);
  const r = await execute(d.graph, new Map());
  const out = new Map<string, HostTensor>();
  for (const [w, v] of d.grads) {
    const t = r.outputs.get(v);
    if (t) out.set(w, t);
  }
  return out;
}

/** Nodes none of whose outputs reach a graph output. */
function deadNodes(g: Graph): string[] {
  const live = new Set(g.outputs);
  const dead: string[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n) continue;
    if (n.outputs.some((o) => live.has(o))) for (const x of n.inputs) live.add(x);
    else dead.push(`${n.name} (${n.op})`);
  }
  return dead;
}

describe('autodiff: values used several times', () => {
  it('sums the gradient over every use of a parameter and of an intermediate value', async () => {
    const b = GraphBuilder.empty(17);
    const p = param(b, 'p', P);
    const c = b.constant(hostTensor('float32', [3], C));
    // loss = Σ (p·p + p·c + e·e + e) with e = exp(p): p has three uses, e two.
    const e = b.op('Exp', [p]);
    const terms = [b.op('Mul', [p, p]), b.op('Mul', [p, c]), b.op('Mul', [e, e]), e];
    let acc = terms[0] ?? '';
    for (const t of terms.slice(1)) acc = b.op('Add', [acc, t]);
    const loss = reduceSum(b, acc, [0], false);
    const got = (await gradOf(b.build([loss]), loss, [p])).get(p);
    // d/dp = 2p + c + 2e² + e
    const want = P.map((x, i) => 2 * x + (C[i] ?? 0) + 2 * Math.exp(2 * x) + Math.exp(x));
    expect(got).toBeDefined();
    want.forEach((w, i) => expect(Math.abs((got?.data[i] ?? NaN) - w) / Math.abs(w), `element ${i}`).toBeLessThan(1e-5));
  });

  it('sums over the outputs of one node read by several nodes (Split halves used twice)', async () => {
    const b = GraphBuilder.empty(17);
    const p = b.initializer('p', hostTensor('float32', [4], [1, 2, 3, 4]), { dtype: 'float32', shape: [4] });
    const [lo, hi] = b.add('Split', [p, b.ints([2, 2])], { axis: 0 }, { outputs: 2 });
    if (!lo || !hi) throw new Error('Split gave no outputs');
    // loss = Σ lo·hi + Σ lo·lo + Σ hi  ->  d/dlo = hi + 2·lo, d/dhi = lo + 1
    const loss = b.op('Add', [b.op('Add', [reduceSum(b, b.op('Mul', [lo, hi]), [0], false), reduceSum(b, b.op('Mul', [lo, lo]), [0], false)]), reduceSum(b, hi, [0], false)]);
    const got = (await gradOf(b.build([loss]), loss, [p])).get(p);
    expect(Array.from(got?.data ?? [])).toEqual([3 + 2, 4 + 4, 1 + 1, 2 + 1]);
  });
});

describe('autodiff: unused branches are pruned', () => {
  /** loss = Σ p·c; with `extra`, branches that must cost no backward node. */
  function graph(extra: boolean): { g: Graph; loss: string; outputs: string[] } {
    const b = GraphBuilder.empty(17);
    const p = param(b, 'p', P);
    const q = param(b, 'q', C);
    const c = b.constant(hostTensor('float32', [3], C));
    let loss = reduceSum(b, b.op('Mul', [p, c]), [0], false);
    const outputs = [loss];
    if (extra) {
      // A branch of a trained value that is an output but not the loss.
      outputs.push(b.op('Tanh', [b.op('Exp', [p])]));
      // A trained value used only off the loss's path.
      outputs.push(b.op('Mul', [q, q]));
      // A branch that joins the loss but depends on no trained value.
      loss = b.op('Add', [loss, reduceSum(b, b.op('Sin', [b.op('Exp', [c])]), [0], false)]);
      outputs[0] = loss;
    }
    return { g: b.build(outputs), loss, outputs };
  }

  it('adds the same backward nodes with and without branches that do not lead to the loss', async () => {
    const [base, full] = [graph(false), graph(true)];
    const db = differentiate(base.g, base.loss, ['p', 'q'], base.outputs);
    const df = differentiate(full.g, full.loss, ['p', 'q'], full.outputs);
    const added = (fwd: Graph, d: Graph): string[] => d.nodes.slice(fwd.nodes.length).map((n) => n.op);
    expect(added(full.g, df.graph)).toEqual(added(base.g, db.graph));
    expect(deadNodes(df.graph)).toEqual([]);
    const grads = await gradOf(full.g, full.loss, ['p', 'q'], full.outputs);
    expect(Array.from(grads.get('p')?.data ?? [])).toEqual(Array.from(Float32Array.from(C)));
    expect(Array.from(grads.get('q')?.data ?? [])).toEqual([0, 0, 0]);
  });

  it('leaves no dead node in the training graph of gpt2_tiny (mask, shapes and token ids get no backward nodes)', () => {
    const { graph: g } = importOnnx(model('gpt2_tiny.onnx'));
    const tg = buildTrainingGraph(g, { loss: 'cross_entropy', optimizer: { kind: 'adam', lr: 1e-3 } });
    expect(deadNodes(tg.graph)).toEqual([]);
  });
});
