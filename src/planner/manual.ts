/**
 * Hand-written parallelization strategies, for comparison and for users who want
 * control. Each is a mesh plus pinned layouts for the graph inputs and parameters;
 * the intra-op pass places everything else, so a manual strategy is the best plan
 * *within* that layout, and `auto` (nothing pinned) can only do as well or better.
 */
import { AutoparError } from '../errors.js';
import { isFloat } from '../ir/dtype.js';
import type { Graph } from '../ir/types.js';
import type { ShardingSpec } from '../sharding/spec.js';
import type { MeshShape } from '../sharding/mesh.js';

export type ManualStrategy =
  | { readonly kind: 'dp' }
  | { readonly kind: 'zero3' }
  | { readonly kind: 'megatron' }
  | { readonly kind: 'grid'; readonly dp: number; readonly tp: number; readonly pp: number };

export type StrategyName = 'auto' | ManualStrategy;

export function parseStrategy(text: string): StrategyName {
  switch (text) {
    case 'auto':
      return 'auto';
    case 'dp':
    case 'zero3':
    case 'megatron':
      return { kind: text };
    case 'pipeline':
      throw new AutoparError('E_INTERNAL', 'parseStrategy: --strategy pipeline is handled by compilePipeline');
    default: {
      const m = /^dp=(\d+),tp=(\d+)(?:,pp=(\d+))?$/.exec(text);
      if (!m) throw new AutoparError('E_USAGE', `--strategy '${text}' is not a strategy; use auto, dp, megatron, zero3, pipeline, or dp=D,tp=T,pp=P`);
      const [dp, tp, pp] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 1)];
      if (dp < 1 || tp < 1 || pp < 1) throw new AutoparError('E_USAGE', `--strategy ${text}: degrees must be at least 1`);
      return { kind: 'grid', dp, tp, pp };
    }
  }
}

export function strategyName(s: StrategyName): string {
  if (s === 'auto') return 'auto';
  return s.kind === 'grid' ? `dp=${s.dp},tp=${s.tp},pp=${s.pp}` : s.kind;
}

/** The mesh shape a manual strategy runs on, for `devices` devices. */
export function manualMeshShape(s: ManualStrategy, devices: number): number[] {
  switch (s.kind) {
    case 'dp':
    case 'zero3':
    case 'megatron':
      return [devices];
    case 'grid':
      if (s.pp > 1) throw new AutoparError('E_USAGE', `dp=${s.dp},tp=${s.tp},pp=${s.pp} is pipelined: plan it with planModel (the CLI's compile does), not as one stage`);
      if (s.dp * s.tp * s.pp !== devices) {
        throw new AutoparError('E_USAGE', `--strategy dp=${s.dp},tp=${s.tp},pp=${s.pp} uses ${s.dp * s.tp * s.pp} devices but the cluster has ${devices}; the degrees must multiply to ${devices}`);
      }
      return s.dp === 1 ? [s.tp] : s.tp === 1 ? [s.dp] : [s.dp, s.tp];
  }
}

interface Axes {
  readonly data: string | undefined;
  readonly tensor: string | undefined;
}

function axesOf(s: ManualStrategy, mesh: MeshShape): Axes {
  const names = mesh.axes.map((a) => a.name);
  switch (s.kind) {
    case 'dp':
    case 'zero3':
      return { data: names[0], tensor: undefined };
    case 'megatron':
      return { data: undefined, tensor: names[0] };
    case 'grid':
      return s.dp === 1 ? { data: undefined, tensor: names[0] } : s.tp === 1 ? { data: names[0], tensor: undefined } : { data: names[0], tensor: names[1] };
  }
}

const whole = (rank: number): ShardingSpec => ({ dims: Array.from({ length: rank }, () => []), partial: [] });

function splitDim(rank: number, dim: number, axis: string): ShardingSpec {
  return { dims: Array.from({ length: rank }, (_, i) => (i === dim ? [axis] : [])), partial: [] };
}

/**
 * Megatron's column/row pattern from dataflow: a weight's MatMul is column-parallel
 * when its activation comes in whole, row-parallel when it comes from a
 * column-parallel one (through attention, activation functions, reshapes); a row
 * output is whole again (after its all-reduce).
 */
function megatronWeights(g: Graph, forwardNodes: number): { roles: Map<string, 'column' | 'row'>; transposed: Set<string> } {
  const split = new Set<string>();
  const roles = new Map<string, 'column' | 'row'>();
  // Gemm with transB holds its weight as [out, in] (PyTorch's Linear): columns are dim 0.
  const transposed = new Set<string>();
  const isWeight = (v: string | undefined): boolean => v !== undefined && (g.initializers.get(v)?.type.shape.length ?? 0) === 2 && isFloat(g.initializers.get(v)?.type.dtype ?? 'int64');
  for (const n of g.nodes.slice(0, forwardNodes)) {
    const w = n.op === 'MatMul' || n.op === 'Gemm' ? n.inputs[1] : undefined;
    if (w && isWeight(w) && !roles.has(w)) {
      const role = split.has(n.inputs[0] ?? '') ? 'row' : 'column';
      roles.set(w, role);
      const tb = n.attrs.get('transB');
      if (n.op === 'Gemm' && tb?.kind === 'int' && tb.value !== 0) transposed.add(w);
      if (role === 'column') n.outputs.forEach((o) => split.add(o));
      continue;
    }
    // Normalisations and residual joins end a split region.
    if (n.op === 'LayerNormalization' || n.op === 'ReduceMean') continue;
    if (n.op === 'Add' && !n.inputs.every((i) => split.has(i) || g.initializers.has(i))) continue;
    if (n.inputs.some((i) => split.has(i))) n.outputs.forEach((o) => split.add(o));
  }
  return { roles, transposed };
}

/**
 * Pinned layouts of a manual strategy on its mesh. Graph inputs carry the batch (split
 * over the data axis) but those in `notBatch`, kept whole (a pipeline stage's input can
 * be a weight's gradient from a later stage).
 */
export function manualPins(s: ManualStrategy, g: Graph, forwardNodes: number, params: readonly string[], mesh: MeshShape, notBatch: ReadonlySet<string> = new Set()): Map<string, ShardingSpec> {
  const { data, tensor } = axesOf(s, mesh);
  const pins = new Map<string, ShardingSpec>();
  const size = (axis: string | undefined): number => mesh.axes.find((a) => a.name === axis)?.size ?? 1;
  for (const inp of g.inputs) {
    const rank = inp.type.shape.length;
    const b = inp.type.shape[0];
    if (notBatch.has(inp.name)) pins.set(inp.name, whole(rank));
    else if (data && rank > 0 && typeof b === 'number' && b % size(data) === 0) pins.set(inp.name, splitDim(rank, 0, data));
    else if (data && rank > 0) throw new AutoparError('E_USAGE', `input '${inp.name}' has batch ${String(b)}, which does not divide into ${size(data)} data-parallel replicas; choose a batch that is a multiple of ${size(data)}`);
    else pins.set(inp.name, whole(rank));
  }
  const { roles, transposed } = tensor ? megatronWeights(g, forwardNodes) : { roles: new Map<string, 'column' | 'row'>(), transposed: new Set<string>() };
  // A column-parallel MatMul's bias is split like its output columns.
  const columnBias = new Set<string>();
  if (tensor) {
    for (const n of g.nodes.slice(0, forwardNodes)) {
      // Gemm adds its own bias (input 2).
      const bias = n.inputs[2];
      if (n.op === 'Gemm' && roles.get(n.inputs[1] ?? '') === 'column' && bias !== undefined && (g.initializers.get(bias)?.type.shape.length ?? 0) === 1) columnBias.add(bias);
      if (n.op !== 'Add') continue;
      const prod = g.nodes.find((m) => m.outputs.includes(n.inputs[0] ?? '') || m.outputs.includes(n.inputs[1] ?? ''));
      const w = prod?.op === 'MatMul' ? prod.inputs[1] : undefined;
      if (w && roles.get(w) === 'column') for (const i of n.inputs) if ((g.initializers.get(i)?.type.shape.length ?? 0) === 1) columnBias.add(i);
    }
  }
  for (const p of params) {
    const t = g.initializers.get(p)?.type;
    if (!t) continue;
    const rank = t.shape.length;
    const shape = t.shape.map(Number);
    if (s.kind === 'zero3') {
      // Shard every parameter over the data axis on its first dimension that divides.
      const dim = shape.findIndex((d) => data !== undefined && d % size(data) === 0);
      pins.set(p, dim >= 0 && data ? splitDim(rank, dim, data) : whole(rank));
      continue;
    }
    const role = roles.get(p);
    const [inDim, outDim] = transposed.has(p) ? [1, 0] : [0, 1];
    if (tensor && role === 'column' && (shape[outDim] ?? 0) % size(tensor) === 0) pins.set(p, splitDim(rank, outDim, tensor));
    else if (tensor && role === 'row' && (shape[inDim] ?? 0) % size(tensor) === 0) pins.set(p, splitDim(rank, inDim, tensor));
    else if (tensor && columnBias.has(p) && (shape[0] ?? 0) % size(tensor) === 0) pins.set(p, splitDim(rank, 0, tensor));
    else pins.set(p, whole(rank));
  }
  return pins;
}
