/**
 * Sharding rules as data (Shardy-style factor rules). A rule names the op's factors
 * (one per independent index of its loop nest) and maps every tensor dimension to a
 * factor or to -1 (the dimension must stay whole on each device). Splitting a
 * 'parallel' factor over a mesh axis splits every dimension mapped to it; splitting a
 * 'contract' factor (a summed index: matmul's k, a ReduceSum axis, an embedding's
 * vocabulary) leaves each output an unreduced partial sum over that axis. One generic
 * enumerator (src/sharding) turns rules into strategies; ops only state their rule.
 */
import type { HostTensor } from '../ir/host-tensor.js';
import type { Node } from '../ir/types.js';
import type { ConcreteType } from './op.js';

export type FactorKind = 'parallel' | 'contract';

export interface Factor {
  readonly size: number;
  readonly kind: FactorKind;
}

export interface ShardingRule {
  readonly factors: readonly Factor[];
  /** Per input (in node order; [] for an omitted or constant input), per dimension: factor index or -1. */
  readonly inputs: readonly (readonly number[])[];
  /** Per output, per dimension: factor index or -1. Contract factors never appear here. */
  readonly outputs: readonly (readonly number[])[];
  /**
   * Inputs added after the contraction (a bias): with a contract factor split, one
   * device of each group adds them, the others add zeros, so the partials still sum.
   */
  readonly addedOnce?: readonly number[];
  /**
   * The op is linear in its inputs jointly (a sum, a negation, a view): inputs that are
   * all partial sums over some axes give an output partial over the same axes, so
   * partial gradients can be added up before one reduction.
   */
  readonly linear?: boolean;
}

export interface ShardingContext {
  readonly node: Node;
  readonly opset: number;
  readonly inputs: readonly (ConcreteType | undefined)[];
  readonly outputs: readonly ConcreteType[];
  /** True where input i is a compile-time constant (shapes, axes): never sharded. */
  readonly isConstant: (i: number) => boolean;
  /** Host value of a constant input (reduction axes, shapes). */
  readonly constant: (i: number) => HostTensor | undefined;
}

/** A small builder: factors by name, dims by factor name ('' = whole). */
export class RuleBuilder {
  private readonly names = new Map<string, number>();
  private readonly factors: Factor[] = [];

  factor(name: string, size: number, kind: FactorKind = 'parallel'): string {
    const at = this.names.get(name);
    if (at === undefined) {
      this.names.set(name, this.factors.length);
      this.factors.push({ size, kind });
    } else {
      const f = this.factors[at];
      // The same index seen with size 1 somewhere (broadcast) keeps the larger size.
      if (f && size > f.size) this.factors[at] = { size, kind: f.kind };
    }
    return name;
  }

  dims(names: readonly string[]): number[] {
    return names.map((n) => (n === '' ? -1 : (this.names.get(n) ?? -1)));
  }

  build(inputs: readonly (readonly string[])[], outputs: readonly (readonly string[])[]): ShardingRule {
    return { factors: this.factors, inputs: inputs.map((d) => this.dims(d)), outputs: outputs.map((d) => this.dims(d)) };
  }

  /** As build, with inputs that are added once after the contraction (biases). */
  buildWithBias(inputs: readonly (readonly string[])[], outputs: readonly (readonly string[])[], addedOnce: readonly number[]): ShardingRule {
    return { ...this.build(inputs, outputs), addedOnce };
  }
}

/**
 * Elementwise with numpy broadcasting: one factor per output dimension; an input
 * dimension that is broadcast (size 1 against a larger output) stays whole.
 */
export function elementwiseRule(ctx: ShardingContext): ShardingRule {
  const out = ctx.outputs[0];
  if (!out) return { factors: [], inputs: [], outputs: [] };
  const rank = out.shape.length;
  const factors: Factor[] = out.shape.map((d) => ({ size: d, kind: 'parallel' }));
  const inputs = ctx.inputs.map((t, i) => {
    if (!t || ctx.isConstant(i)) return [];
    return t.shape.map((d, k) => {
      const f = k + rank - t.shape.length;
      return d === out.shape[f] ? f : -1;
    });
  });
  const outputs = ctx.outputs.map((t) => t.shape.map((_, k) => k));
  return { factors, inputs, outputs };
}

/** Marks a rule as linear (see `ShardingRule.linear`). */
export function linearRule(rule: ShardingRule): ShardingRule {
  return { ...rule, linear: true };
}

/** Every dimension whole: the op runs replicated (or its input comes gathered). */
export function replicatedRule(ctx: ShardingContext): ShardingRule {
  return {
    factors: [],
    inputs: ctx.inputs.map((t) => (t ? t.shape.map(() => -1) : [])),
    outputs: ctx.outputs.map((t) => t.shape.map(() => -1)),
  };
}

/**
 * Reshape as factors: dimensions group into blocks whose sizes multiply to the same
 * product on both sides; in each block the major (first) dimensions of input and
 * output share a factor when their sizes agree or one divides the other, so a split
 * of the leading dimension survives [b·s, h] <-> [b, s, h]. Other dimensions stay whole.
 */
export function reshapeRule(inShape: readonly number[], outShape: readonly number[]): ShardingRule {
  const factors: Factor[] = [];
  const inDims = inShape.map(() => -1);
  const outDims = outShape.map(() => -1);
  let i = 0;
  let o = 0;
  while (i < inShape.length || o < outShape.length) {
    // Size-1 dimensions are free on either side.
    if (i < inShape.length && inShape[i] === 1) {
      i++;
      continue;
    }
    if (o < outShape.length && outShape[o] === 1) {
      o++;
      continue;
    }
    if (i >= inShape.length || o >= outShape.length) break;
    const i0 = i;
    const o0 = o;
    let pi = inShape[i++] ?? 1;
    let po = outShape[o++] ?? 1;
    while (pi !== po) {
      if (pi < po && i < inShape.length) pi *= inShape[i++] ?? 1;
      else if (po < pi && o < outShape.length) po *= outShape[o++] ?? 1;
      else break;
    }
    const a = inShape[i0] ?? 1;
    const b = outShape[o0] ?? 1;
    const shared = Math.min(a, b);
    if (Math.max(a, b) % shared === 0 && shared > 1) {
      inDims[i0] = factors.length;
      outDims[o0] = factors.length;
      factors.push({ size: shared, kind: 'parallel' });
    }
  }
  return { factors, inputs: [inDims], outputs: [outDims] };
}
