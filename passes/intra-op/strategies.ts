/**
 * The one generic enumerator of sharding strategies: from an op's factor rule and a
 * mesh, every way of giving each mesh axis to one factor (or to none). A strategy
 * fixes the spec of every output (contracted factors become partial axes) and the spec
 * each input must arrive in (never partial: partial sums are settled on the edge, by
 * an all-reduce or a reduce-scatter the resharder prices).
 */
import type { MeshShape } from '../../src/sharding/mesh.js';
import { replicated, type ShardingSpec } from '../../src/sharding/spec.js';
import type { ShardingRule } from '../../src/ops/sharding-rule.js';

export interface NodeStrategy {
  /** Mesh axes given to each factor (major to minor, in mesh order). */
  readonly factorAxes: readonly (readonly string[])[];
  readonly outputs: readonly ShardingSpec[];
  /** Required spec per input; undefined for constants and omitted inputs (replicated, free). */
  readonly inputs: readonly (ShardingSpec | undefined)[];
  /** How many ways the work is split (product of the sizes of all assigned axes). */
  readonly divisor: number;
  /** Short human label, e.g. "m:x k:y". */
  readonly label: string;
}

function specFor(dims: readonly number[], factorAxes: readonly (readonly string[])[], partial: readonly string[]): ShardingSpec {
  return { dims: dims.map((f) => (f >= 0 ? [...(factorAxes[f] ?? [])] : [])), partial: [...partial] };
}

/**
 * All strategies of a rule on a mesh: (factors + 1)^axes assignments, minus those whose
 * axes do not divide their factor. `inputRanks` gives the rank of inputs whose rule row
 * is empty (constants), so they get no required spec.
 */
export function enumerateStrategies(rule: ShardingRule, mesh: MeshShape, outputRanks: readonly number[], factorNames?: readonly string[]): NodeStrategy[] {
  const axes = mesh.axes;
  const out: NodeStrategy[] = [];
  const choice = new Array<number>(axes.length).fill(-1);
  const recurse = (a: number): void => {
    if (a === axes.length) {
      const factorAxes = rule.factors.map(() => [] as string[]);
      choice.forEach((f, i) => {
        const ax = axes[i];
        if (f >= 0 && ax) factorAxes[f]?.push(ax.name);
      });
      for (let f = 0; f < rule.factors.length; f++) {
        const size = rule.factors[f]?.size ?? 1;
        const split = (factorAxes[f] ?? []).reduce((p, name) => p * (axes.find((x) => x.name === name)?.size ?? 1), 1);
        if (size % split !== 0) return;
      }
      const partial = rule.factors.flatMap((fac, f) => (fac.kind === 'contract' ? (factorAxes[f] ?? []) : []));
      const divisor = choice.reduce((p, f, i) => (f >= 0 ? p * (axes[i]?.size ?? 1) : p), 1);
      const outputs = outputRanks.map((r, o) => (rule.outputs[o] ? specFor(rule.outputs[o] ?? [], factorAxes, partial) : replicated(r)));
      const inputs = rule.inputs.map((dims) => (dims.length ? specFor(dims, factorAxes, []) : undefined));
      const label = factorAxes
        .map((ax, f) => (ax.length ? `${factorNames?.[f] ?? `f${f}`}:${ax.join('*')}` : ''))
        .filter((s) => s)
        .join(' ') || 'replicated';
      out.push({ factorAxes, outputs, inputs, divisor, label });
      return;
    }
    for (let f = -1; f < rule.factors.length; f++) {
      // A factor of size 1 cannot be split.
      if (f >= 0 && (rule.factors[f]?.size ?? 1) <= 1) continue;
      choice[a] = f;
      recurse(a + 1);
    }
    choice[a] = -1;
  };
  recurse(0);
  if (rule.linear && rule.factors.every((f) => f.kind === 'parallel') && rule.inputs.every((d) => d.length > 0)) {
    // Partial in, partial out, over any set of axes the strategy leaves free.
    for (const base of [...out]) {
      const used = new Set(base.factorAxes.flat());
      const free = axes.map((a) => a.name).filter((n) => !used.has(n));
      for (let mask = 1; mask < 1 << free.length; mask++) {
        const partial = free.filter((_, i) => mask & (1 << i));
        out.push({
          ...base,
          outputs: base.outputs.map((s) => ({ dims: s.dims, partial })),
          inputs: base.inputs.map((s) => (s ? { dims: s.dims, partial } : s)),
          label: `${base.label} partial:${partial.join('*')}`,
        });
      }
    }
  }
  return out;
}
