/**
 * A layout in words. A weight's layout alone does not say which parallelism it is: a
 * split weight is Megatron column-parallel when its op's output comes out split on its
 * features, row-parallel when the output is a partial sum, and ZeRO-3/FSDP-like when the
 * output is split on the batch (the weight is gathered for use). So the words are read
 * from the weight's layout together with its op's output layout, axis by axis.
 */
import type { ShardingJson } from '../planner/plan-json.js';
import { specToString } from '../sharding/spec.js';

export const specText = (s: ShardingJson): string => specToString(s);

const dimOf = (s: ShardingJson, axis: string): number => s.dims.findIndex((axes) => axes.includes(axis));
const usedAxes = (s: ShardingJson): string[] => [...new Set([...s.dims.flat(), ...s.partial])];

export function isReplicated(s: ShardingJson): boolean {
  return usedAxes(s).length === 0;
}

/** An activation: "batch split over x, features split over y", "partial sums over x", "replicated". */
export function activationWords(s: ShardingJson): string {
  const parts: string[] = [];
  const last = s.dims.length - 1;
  s.dims.forEach((axes, d) => {
    if (axes.length === 0) return;
    const what = d === 0 && last > 0 ? 'batch' : d === last ? 'features' : `dim ${d}`;
    parts.push(`${what} split over ${axes.join('*')}`);
  });
  if (s.partial.length > 0) parts.push(`partial sums over ${s.partial.join('*')} (reduced later)`);
  return parts.length === 0 ? 'replicated' : parts.join(', ');
}

export type Pattern = 'column-parallel' | 'row-parallel' | 'data-parallel' | 'zero3' | 'vocab-parallel' | 'split' | 'replicated';

/** One axis's role for a weight-bearing op: what splits over it. */
export interface AxisRole {
  readonly axis: string;
  readonly pattern: Pattern;
  /** The weight dimension split over this axis, if any. */
  readonly weightDim: number | undefined;
}

/** The role of each mesh axis the weight or the output uses. */
export function axisRoles(op: string, weight: ShardingJson, output: ShardingJson | undefined): AxisRole[] {
  const out = output ?? { dims: [], partial: [] };
  const axes = [...new Set([...usedAxes(weight), ...usedAxes(out)])];
  const lastOut = out.dims.length - 1;
  return axes.map((axis): AxisRole => {
    const wd = dimOf(weight, axis);
    const od = dimOf(out, axis);
    const weightDim = wd >= 0 ? wd : undefined;
    if (weightDim !== undefined) {
      // An embedding split by rows: each device looks up its rows, the partial results are summed.
      if (op === 'Gather' && weightDim === 0) return { axis, pattern: 'vocab-parallel', weightDim };
      if (out.partial.includes(axis)) return { axis, pattern: 'row-parallel', weightDim };
      if (od === lastOut && lastOut > 0) return { axis, pattern: 'column-parallel', weightDim };
      if (od === 0) return { axis, pattern: 'zero3', weightDim };
      return { axis, pattern: 'split', weightDim };
    }
    if (od === 0 && lastOut > 0) return { axis, pattern: 'data-parallel', weightDim };
    return { axis, pattern: 'split', weightDim };
  });
}

/** Axes in the same role on the same weight dimension read as one: "over axis x*y". */
function mergeRoles(roles: readonly AxisRole[]): AxisRole[] {
  const out: AxisRole[] = [];
  for (const r of roles) {
    const i = out.findIndex((o) => o.pattern === r.pattern && o.weightDim === r.weightDim);
    const same = out[i];
    if (same) out[i] = { ...same, axis: `${same.axis}*${r.axis}` };
    else out.push(r);
  }
  return out;
}

function roleWords(r: AxisRole, name: string): string {
  const dim = r.weightDim === undefined ? '' : ` on dim ${r.weightDim}`;
  switch (r.pattern) {
    case 'column-parallel':
      return `${name} split${dim} over axis ${r.axis}: Megatron column-parallel (output features split, the output stays split)`;
    case 'row-parallel':
      return `${name} split${dim} over axis ${r.axis}: Megatron row-parallel (input features split, the output is a partial sum until reduced)`;
    case 'vocab-parallel':
      return `${name} split${dim} over axis ${r.axis}: vocabulary-parallel embedding (each device looks up its rows, the results are summed)`;
    case 'zero3':
      return `${name} sharded${dim} over axis ${r.axis} and gathered for use: ZeRO-3 / FSDP-like data parallel over ${r.axis}`;
    case 'data-parallel':
      return `data parallel over ${r.axis} (batch split, ${name} replicated on ${r.axis})`;
    case 'split':
      return r.weightDim === undefined ? `activations split over ${r.axis}, ${name} replicated on ${r.axis}` : `${name} split${dim} over axis ${r.axis}`;
    case 'replicated':
      return `${name} replicated over ${r.axis}`;
    default: {
      const _: never = r.pattern;
      return _;
    }
  }
}

/** e.g. "fc1.weight split on dim 1 over axis y: Megatron column-parallel (...)"; "replicated". */
export function weightWords(name: string, op: string, weight: ShardingJson, output: ShardingJson | undefined): string {
  const roles = mergeRoles(axisRoles(op, weight, output));
  if (roles.length === 0) return output === undefined ? `${name} replicated` : `${name} replicated (every device computes the whole op)`;
  return roles.map((r) => roleWords(r, name)).join('; ');
}

/** The short pattern name for tables: "column-parallel over y, data-parallel over x". */
export function patternSummary(op: string, weight: ShardingJson, output: ShardingJson | undefined): string {
  const roles = mergeRoles(axisRoles(op, weight, output));
  if (roles.length === 0) return 'replicated';
  return roles.map((r) => `${r.pattern} over ${r.axis}`).join(', ');
}

/** Optimizer states: like the weight, or sharded further (ZeRO-1/2-like) over some axes. */
export function optimizerWords(weight: ShardingJson, state: ShardingJson | null): string {
  if (state === null) return 'no optimizer state (inference or a stateless optimizer)';
  const extra = usedAxes(state).filter((a) => !usedAxes(weight).includes(a));
  if (extra.length > 0) return `optimizer states ${specText(state)}: sharded over ${extra.join(', ')} where the weight is not (ZeRO-1/2-like sharded optimizer state)`;
  if (specText(state) === specText(weight)) return isReplicated(state) ? 'optimizer states replicated, like the weight' : `optimizer states ${specText(state)}, split like the weight`;
  return `optimizer states ${specText(state)}`;
}
