/**
 * The single-device reference executor: runs a graph node by node with tfjs, freeing
 * each intermediate after its last use. Everything else (plans, device programs) is
 * checked against what this computes.
 */
import { AutoparError } from '../errors.js';
import type { HostTensor } from '../ir/host-tensor.js';
import type { Graph } from '../ir/types.js';
import type { ConcreteType } from '../ops/op.js';
import { fmtShape, isConcrete } from '../ops/util.js';
import { initBackend, type BackendInfo, tf } from './backend.js';
import { KERNELS } from './kernels/index.js';
import type { KernelContext } from './kernels/kernel.js';
import { fromTf, tfDtype, toTf } from './tensors.js';
import { loadWeights } from './weights.js';

export interface ExecuteOptions {
  /** Initializer values to use instead of the model's (e.g. a reference folder's). */
  readonly weights?: ReadonlyMap<string, HostTensor>;
}

export interface ExecuteResult {
  readonly outputs: ReadonlyMap<string, HostTensor>;
  readonly backend: BackendInfo;
  readonly seconds: number;
}

function concreteType(g: Graph, name: string): ConcreteType {
  const t = g.types.get(name);
  if (!t || !isConcrete(t.shape)) {
    throw new AutoparError('E_DIM', `value '${name}' has no static shape (${t ? fmtShape(t.shape) : 'untyped'}); bind symbolic dimensions with --dim`);
  }
  return { dtype: t.dtype, shape: t.shape };
}

export function checkFeeds(g: Graph, feeds: ReadonlyMap<string, HostTensor>): void {
  for (const inp of g.inputs) {
    const f = feeds.get(inp.name);
    if (!f) throw new AutoparError('E_REFERENCE', `no value given for graph input '${inp.name}' (${inp.type.dtype}${fmtShape(inp.type.shape)})`);
    const want = concreteType(g, inp.name).shape;
    if (f.shape.length !== want.length || f.shape.some((d, i) => d !== want[i])) {
      throw new AutoparError('E_REFERENCE', `input '${inp.name}' has shape ${fmtShape(f.shape)} but the model expects ${fmtShape(want)}; bind dims with --dim to match`);
    }
  }
}

export async function execute(g: Graph, feeds: ReadonlyMap<string, HostTensor>, opts: ExecuteOptions = {}): Promise<ExecuteResult> {
  const backend = await initBackend();
  checkFeeds(g, feeds);
  const weights = loadWeights(g, opts.weights);
  const t0 = performance.now();

  const uses = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) if (i !== '') uses.set(i, (uses.get(i) ?? 0) + 1);
  for (const o of g.outputs) uses.set(o, (uses.get(o) ?? 0) + 1);

  const env = new Map<string, tf.Tensor>();
  const hostConst = (name: string): HostTensor | undefined => {
    const c = g.constants.get(name);
    if (c) return c;
    return g.initializers.has(name) ? weights.get(name) : undefined;
  };
  const get = (name: string): tf.Tensor => {
    let t = env.get(name);
    if (!t) {
      const host = feeds.get(name) ?? weights.get(name) ?? g.constants.get(name);
      if (!host) throw new AutoparError('E_INTERNAL', `value '${name}' is used before it is computed`);
      t = toTf(host);
      env.set(name, t);
    }
    return t;
  };
  const release = (name: string): void => {
    const left = (uses.get(name) ?? 0) - 1;
    uses.set(name, left);
    if (left <= 0) {
      env.get(name)?.dispose();
      env.delete(name);
    }
  };

  try {
    for (const node of g.nodes) {
      const kernel = KERNELS.get(node.op);
      if (!kernel) throw new AutoparError('E_UNSUPPORTED_OP', `node '${node.name}': op '${node.op}' has no tfjs lowering`);
      const ins = node.inputs.map((n) => (n === '' ? undefined : get(n)));
      const ctx: KernelContext = {
        node,
        opset: g.opset,
        inputs: node.inputs.map((n) => (n === '' ? undefined : concreteType(g, n))),
        outputs: node.outputs.map((o) => (o === '' ? { dtype: 'float32', shape: [] } : concreteType(g, o))),
        constant: (i) => {
          const n = node.inputs[i];
          return n ? hostConst(n) : undefined;
        },
      };
      let outs: tf.Tensor[];
      try {
        outs = kernel(ins, ctx);
      } catch (e) {
        if (e instanceof AutoparError) throw e;
        throw new AutoparError('E_INTERNAL', `executing node '${node.name}' (${node.op}) failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      node.outputs.forEach((o, i) => {
        const t = outs[i];
        if (o === '') {
          t?.dispose();
          return;
        }
        const want = ctx.outputs[i];
        if (!t || !want) throw new AutoparError('E_INTERNAL', `node '${node.name}' (${node.op}) produced no output ${i}`);
        if (t.shape.length !== want.shape.length || t.shape.some((d, k) => d !== want.shape[k])) {
          throw new AutoparError('E_INTERNAL', `node '${node.name}' (${node.op}) produced ${fmtShape(t.shape)}, inference said ${fmtShape(want.shape)}`);
        }
        const dt = tfDtype(want.dtype);
        env.set(o, t.dtype === dt ? t : tf.cast(t, dt));
        if (t.dtype !== dt) t.dispose();
        if (!uses.get(o)) release(o);
      });
      for (const n of node.inputs) if (n !== '') release(n);
    }
    const outputs = new Map<string, HostTensor>();
    for (const o of g.outputs) outputs.set(o, fromTf(get(o), concreteType(g, o).dtype));
    return { outputs, backend, seconds: (performance.now() - t0) / 1000 };
  } finally {
    for (const t of env.values()) t.dispose();
  }
}
