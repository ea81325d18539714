/**
 * Binds symbolic dimensions, infers every value's type, and folds what is constant
 * (PyTorch's shape arithmetic) into constants so that later passes see static shapes.
 * Floating-point initializers (parameters) are never folded into: a Transpose of a
 * weight stays a node, so the weight stays a trainable parameter.
 */
import { AutoparError } from '../src/errors.js';
import { isFloat } from '../src/ir/dtype.js';
import { type HostTensor, numel } from '../src/ir/host-tensor.js';
import { type Dim, type Graph, type Node, type TensorType, inlineData } from '../src/ir/types.js';
import type { NodeContext } from '../src/ops/op.js';
import { opFor } from '../src/ops/registry.js';
import { fmtShape, isConcrete } from '../src/ops/util.js';

/** Folded results larger than this stay nodes: folding is for shape arithmetic, and big
 * constant computations (a causal mask per block) run faster on the device than here. */
const MAX_FOLD_ELEMENTS = 1 << 16;

export interface BindOptions {
  /** Values for symbolic dimensions, e.g. {batch: 8}. */
  readonly dims?: Readonly<Record<string, number>>;
  /** Value for symbolic dimensions not in `dims`; undefined leaves them symbolic. */
  readonly defaultDim?: number;
}

export interface BindResult {
  readonly graph: Graph;
  /** Symbolic dimensions that took `defaultDim` because nothing bound them. */
  readonly defaulted: readonly string[];
}

function bindShape(shape: readonly Dim[], dims: Readonly<Record<string, number>>, dflt: number | undefined, defaulted: Set<string>): Dim[] {
  return shape.map((d) => {
    if (typeof d === 'number') return d;
    const v = dims[d];
    if (v !== undefined) return v;
    if (dflt !== undefined) {
      defaulted.add(d);
      return dflt;
    }
    return d;
  });
}

/** The symbolic dimension names of a graph's inputs, in order of appearance. */
export function symbolicDims(g: Graph): string[] {
  const out: string[] = [];
  for (const i of g.inputs) for (const d of i.type.shape) if (typeof d === 'string' && !out.includes(d)) out.push(d);
  return out;
}

export function bindAndInfer(g: Graph, opts: BindOptions = {}): BindResult {
  const dims = opts.dims ?? {};
  const known = symbolicDims(g);
  for (const name of Object.keys(dims)) {
    if (!known.includes(name)) {
      throw new AutoparError(
        'E_DIM',
        `--dim ${name}: the model has no symbolic dimension '${name}'${known.length ? ` (it has: ${known.join(', ')})` : ' (all its input dimensions are fixed)'}`,
      );
    }
  }
  const defaulted = new Set<string>();
  const inputs = g.inputs.map((i) => ({ name: i.name, type: { dtype: i.type.dtype, shape: bindShape(i.type.shape, dims, opts.defaultDim, defaulted) } }));

  const types = new Map<string, TensorType>();
  for (const i of inputs) types.set(i.name, i.type);
  for (const [n, init] of g.initializers) types.set(n, init.type);
  const constants = new Map(g.constants);
  for (const [n, c] of constants) types.set(n, { dtype: c.dtype, shape: c.shape });

  // Host values usable for folding: constants, and initializers with inline data that
  // are not parameters (integer buffers such as exported shape tensors).
  const hostValue = (name: string): HostTensor | undefined => {
    const c = constants.get(name);
    if (c) return c;
    const init = g.initializers.get(name);
    if (init && !isFloat(init.type.dtype)) return inlineData(init.data);
    return undefined;
  };
  const isParam = (name: string): boolean => {
    const init = g.initializers.get(name);
    return init !== undefined && isFloat(init.type.dtype);
  };

  const nodes: Node[] = [];
  for (const node of g.nodes) {
    const op = opFor(node, g.opset);
    const ctx: NodeContext = {
      node,
      opset: g.opset,
      inputs: node.inputs.map((n) => (n === '' ? undefined : types.get(n))),
      constant: (i) => {
        const n = node.inputs[i];
        return n ? hostValue(n) : undefined;
      },
    };
    node.inputs.forEach((n, i) => {
      if (n !== '' && !types.has(n)) throw new AutoparError('E_INTERNAL', `node '${node.name}': input ${i} '${n}' has no type`);
    });
    let outTypes: readonly TensorType[];
    try {
      outTypes = op.infer(ctx);
    } catch (e) {
      if (e instanceof AutoparError) throw new AutoparError(e.code, `${g.source}: ${e.message}`);
      throw e;
    }
    const named = node.outputs.filter((o) => o !== '').length;
    if (outTypes.length < named) {
      throw new AutoparError('E_GRAPH', `${g.source}: node '${node.name}' (${node.op}) has ${node.outputs.length} outputs but produces ${outTypes.length}`);
    }
    // Whatever an op computed from the model's values (a corrupt Reshape target, Expand
    // shape, Tile repeats), a size must be a non-negative integer.
    for (const t of outTypes) {
      if (t.shape.some((d) => typeof d === 'number' && !(Number.isSafeInteger(d) && d >= 0))) {
        throw new AutoparError('E_SHAPE', `${g.source}: node '${node.name}' (${node.op}) would produce shape ${fmtShape(t.shape)}: sizes must be non-negative integers`);
      }
    }
    node.outputs.forEach((o, i) => {
      const t = outTypes[i];
      if (o !== '' && t) types.set(o, t);
    });

    const inputsConst = node.inputs.every((n) => n === '' || hostValue(n) !== undefined);
    const smallOutputs = outTypes.every((t) => isConcrete(t.shape) && numel(t.shape) <= MAX_FOLD_ELEMENTS);
    const noParams = node.inputs.every((n) => !isParam(n));
    if (op.canFold && smallOutputs && noParams && (inputsConst || op.foldsFromTypes)) {
      const vals = node.inputs.map((n) => (n === '' ? undefined : hostValue(n)));
      const folded = op.fold(vals, ctx);
      if (folded && folded.length >= named) {
        node.outputs.forEach((o, i) => {
          const v = folded[i];
          const t = outTypes[i];
          if (o === '' || !v || !t) return;
          if (v.dtype !== t.dtype || v.shape.length !== t.shape.length || v.shape.some((d, k) => d !== t.shape[k])) {
            throw new AutoparError('E_INTERNAL', `node '${node.name}' (${node.op}): folded ${v.dtype}${fmtShape(v.shape)} but inferred ${t.dtype}${fmtShape(t.shape)}`);
          }
          constants.set(o, v);
        });
        continue;
      }
    }
    nodes.push(node);
  }
  return { graph: { ...g, inputs, nodes, constants, types }, defaulted: [...defaulted] };
}
