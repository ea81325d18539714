/**
 * Unfuses projections whose output is split right away: Split(MatMul(x, W) + b) on
 * the last axis, the fused q|k|v of attention, becomes one MatMul (+ bias) per section
 * with its own slice of W and b as parameters. A contiguous split of the fused axis
 * would give each device a run of q columns only; per-section parameters let each be
 * column-parallel on its own, which is Megatron's attention layout (heads split).
 * Training graphs built after this pass report gradients per section; `unfused` maps
 * each original initializer to its parts, in order, for reports and weight loading.
 */
import { isFloat } from '../src/ir/dtype.js';
import type { Graph, Initializer, Node, TensorType } from '../src/ir/types.js';
import { constInts } from '../src/ops/util.js';

export interface UnfusedParameter {
  readonly parts: readonly string[];
  readonly axis: number;
}

export interface UnfuseResult {
  readonly graph: Graph;
  readonly unfused: ReadonlyMap<string, UnfusedParameter>;
}

export function unfuseProjections(g: Graph): UnfuseResult {
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i !== '') consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const only = (v: string, n: Node): boolean => (consumers.get(v) ?? []).length === 1 && consumers.get(v)?.[0] === n && !g.outputs.includes(v);
  const param = (v: string | undefined, rank: number): Initializer | undefined => {
    const init = v ? g.initializers.get(v) : undefined;
    return init && isFloat(init.type.dtype) && init.type.shape.length === rank ? init : undefined;
  };

  const replace = new Map<Node, Node[]>();
  const drop = new Set<Node>();
  const initializers = new Map(g.initializers);
  const types = new Map(g.types);
  const unfused = new Map<string, UnfusedParameter>();
  for (const split of g.nodes) {
    if (split.op !== 'Split' || split.domain !== '') continue;
    const v = split.inputs[0] ?? '';
    const vt = g.types.get(v);
    if (!vt) continue;
    const rank = vt.shape.length;
    const axisAttr = split.attrs.get('axis');
    const axis = axisAttr?.kind === 'int' ? axisAttr.value : 0;
    if (axis !== -1 && axis !== rank - 1) continue;
    const add = producer.get(v);
    let matmulOut = v;
    let bias: Initializer | undefined;
    let addNode: Node | undefined;
    if (add?.op === 'Add' && only(v, split)) {
      const [a, b] = add.inputs;
      const bi = param(b, 1) ?? param(a, 1);
      if (!bi) continue;
      bias = bi;
      addNode = add;
      matmulOut = bi.name === b ? (a ?? '') : (b ?? '');
    }
    const mm = producer.get(matmulOut);
    if (mm?.op !== 'MatMul' || !only(matmulOut, addNode ?? split)) continue;
    const w = param(mm.inputs[1], 2);
    const x = mm.inputs[0] ?? '';
    if (!w || (consumers.get(w.name) ?? []).length !== 1 || (bias && (consumers.get(bias.name) ?? []).length !== 1)) continue;
    const total = Number(w.type.shape[1]);
    const n = split.outputs.length;
    let sizes: number[];
    try {
      sizes = split.inputs[1]
        ? constInts({ node: split, opset: g.opset, inputs: split.inputs.map((i) => g.types.get(i)), constant: (i) => g.constants.get(split.inputs[i] ?? '') }, 1, 'split')
        : new Array<number>(n).fill(total / n);
    } catch {
      continue;
    }
    if (sizes.reduce((s, x2) => s + x2, 0) !== total || sizes.some((s) => !Number.isInteger(s))) continue;

    const wParts: string[] = [];
    const bParts: string[] = [];
    const mms: Node[] = [];
    const adds: Node[] = [];
    let start = 0;
    sizes.forEach((size, i) => {
      const out = split.outputs[i] ?? '';
      const outType = g.types.get(out) as TensorType;
      const wName = `${w.name}.part${i}`;
      initializers.set(wName, { name: wName, type: { dtype: w.type.dtype, shape: [w.type.shape[0] ?? 0, size] }, data: { kind: 'slice', source: w, axis: 1, start } });
      types.set(wName, { dtype: w.type.dtype, shape: [w.type.shape[0] ?? 0, size] });
      wParts.push(wName);
      const mmOut = bias ? `${matmulOut}.part${i}` : out;
      if (bias) types.set(mmOut, outType);
      mms.push({ ...mm, name: `${mm.name}.part${i}`, inputs: [x, wName], outputs: [mmOut] });
      if (bias && addNode) {
        const bName = `${bias.name}.part${i}`;
        initializers.set(bName, { name: bName, type: { dtype: bias.type.dtype, shape: [size] }, data: { kind: 'slice', source: bias, axis: 0, start } });
        types.set(bName, { dtype: bias.type.dtype, shape: [size] });
        bParts.push(bName);
        const matmulFirst = addNode.inputs[0] === matmulOut;
        adds.push({ ...addNode, name: `${addNode.name}.part${i}`, inputs: matmulFirst ? [mmOut, bName] : [bName, mmOut], outputs: [out] });
      }
      start += size;
    });
    replace.set(mm, mms);
    if (addNode) replace.set(addNode, adds);
    drop.add(split);
    initializers.delete(w.name);
    unfused.set(w.name, { parts: wParts, axis: 1 });
    if (bias) {
      initializers.delete(bias.name);
      unfused.set(bias.name, { parts: bParts, axis: 0 });
    }
    types.delete(matmulOut);
    if (addNode) types.delete(v);
  }
  if (unfused.size === 0) return { graph: g, unfused };
  const nodes = g.nodes.flatMap((n) => (drop.has(n) ? [] : (replace.get(n) ?? [n])));
  for (const name of unfused.keys()) types.delete(name);
  return { graph: { ...g, nodes, initializers, types }, unfused };
}
