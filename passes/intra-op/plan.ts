/**
 * The intra-op pass: build the problem, solve it, and read the answer back as a plan:
 * a layout for every value, a strategy for every op, and the collectives the chosen
 * layouts imply (from the resharding plans on the edges).
 */
import type { CostModel } from '../../cost-models/cost-model.js';
import type { DeviceType } from '../../src/cluster/types.js';
import { dtypeBytes } from '../../src/ir/dtype.js';
import type { Graph } from '../../src/ir/types.js';
import type { DeviceMesh } from '../../src/sharding/mesh.js';
import { createResharder, type Resharder, type ReshardStep } from '../../src/sharding/reshard.js';
import { AutoparError } from '../../src/errors.js';
import type { ShardingSpec } from '../../src/sharding/spec.js';
import { evaluate } from '../../src/solver/evaluate.js';
import { type Problem, problemOf, type Solution, type SolveOptions, withoutTies } from '../../src/solver/problem.js';
import { boundAtPrice, solveUnderMemory } from './lagrange.js';
import { PROVEN_GAP } from '../../src/solver/diffusion-bound.js';
import type { NodeStrategy } from './strategies.js';
import { buildIntraOpProblem, type IntraOpProblem, type ValueRoles } from './build.js';

export interface PlannedCollective {
  readonly kind: string;
  readonly axes: readonly string[];
  readonly bytes: number;
  readonly seconds: number;
  /** The value being resharded and the op (or parameter) that needed it. */
  readonly value: string;
  readonly consumer: string;
}

/**
 * One resharding the plan performs, in execution order: `value` goes from `from` to
 * `to` for `consumer` (an op; a parameter for the loop-carried update). `input` is the
 * consumer's input position, undefined for a shared (fan-out) or update transfer.
 */
export interface Transfer {
  readonly value: string;
  readonly consumer: string;
  readonly input: number | undefined;
  readonly kind: 'input' | 'shared' | 'update';
  readonly from: ShardingSpec;
  readonly to: ShardingSpec;
  readonly steps: readonly ReshardStep[];
}

export interface IntraOpPlan {
  readonly mesh: DeviceMesh;
  /** Layout of every value produced or fed (by name). */
  readonly layouts: ReadonlyMap<string, ShardingSpec>;
  /** Strategy label of every op. */
  readonly strategies: ReadonlyMap<string, string>;
  readonly collectives: readonly PlannedCollective[];
  /** The chosen strategy of every op (input and output specs), by node name. */
  readonly nodeStrategies: ReadonlyMap<string, NodeStrategy>;
  /** Layout a value read by several ops is resharded to once, before its first reader. */
  readonly shared: ReadonlyMap<string, ShardingSpec>;
  /** Every resharding, in the order `collectives` lists them (what a lowering replays). */
  readonly transfers: readonly Transfer[];
  readonly computeSeconds: number;
  readonly communicationSeconds: number;
  readonly objective: number;
  readonly memoryBytes: number;
  readonly solution: Solution;
  readonly problem: IntraOpProblem;
  /** Seconds per resident byte the solve charged (PlanOptions.memoryPrice; 0: none). */
  readonly memoryPrice: number;
}

export interface PlanOptions extends SolveOptions {
  readonly memoryBudget?: number;
  readonly pinned?: ReadonlyMap<string, ShardingSpec>;
  readonly tieRepeats?: boolean;
  /**
   * 'exact' (default): the optimum (or HiGHS's best in the time limit). 'fast': on a mesh
   * of several axes, axis descent (solver/axis-descent.ts), for pricing many candidates.
   */
  readonly search?: 'exact' | 'fast';
  /** Seconds per byte at which to trade time for memory, once (see lagrange.ts). */
  readonly memoryPrice?: number;
  /**
   * Ops (and parameters) that run once per step while the rest runs once per
   * micro-batch: their costs, and the resharding into them, weigh `weight` (1/M) in
   * the objective, as they do in the pipelined step.
   */
  readonly stepWeight?: { readonly names: ReadonlySet<string>; readonly weight: number };
  /** See MemorySolveOptions.deferBound; withBound fills the bound in. */
  readonly deferBound?: boolean;
  /**
   * A plan of the same graph on the same mesh (same options but the memory price): its
   * problem is reused, not rebuilt, and axis descent starts from its choice.
   */
  readonly reuse?: IntraOpPlan;
  /** A resharder of this mesh and cost model to share (its caches) with other plans on the mesh. */
  readonly resharder?: Resharder;
}

export async function planIntraOp(graph: Graph, roles: ValueRoles, mesh: DeviceMesh, cost: CostModel, device: DeviceType, opts: PlanOptions = {}): Promise<IntraOpPlan> {
  const resharder = opts.resharder ?? createResharder(mesh, cost);
  if (resharder.mesh !== mesh) throw new AutoparError('E_INTERNAL', 'planIntraOp: the resharder given is for another mesh');
  // Building the problem is long and synchronous: let pending I/O and timers run first.
  await new Promise<void>((resolve) => setImmediate(resolve));
  const ip = opts.reuse?.problem ?? buildIntraOpProblem({ graph, roles, mesh, cost, device, resharder, memoryBudget: opts.memoryBudget, pinned: opts.pinned, tieRepeats: opts.tieRepeats });
  // Ties collapse, chains and leaves are eliminated (both exact), and the memory limit
  // is priced rather than given to the MILP (see lagrange.ts).
  const descent = opts.search === 'fast' && mesh.axes.length > 1 ? { labels: axisLabels(ip, mesh.axes.map((a) => a.name)), axes: mesh.axes.length, start: opts.reuse?.solution.choice } : undefined;
  const inner = await solveUnderMemory(opts.stepWeight ? weighted(ip, opts.stepWeight) : ip.problem, { ...opts, descent });
  const choice = inner.fits ? inner.choice : ip.problem.nodes.map(() => 0);
  // Ties are a restriction the planner chose, not a constraint of the plan: price without them.
  const ev = evaluate(withoutTies(ip.problem), choice);
  const solution: Solution = { ...inner, choice };
  const layouts = new Map<string, ShardingSpec>();
  /** Layout a multi-reader value is resharded to once, before fanning out. */
  const shared = new Map<string, ShardingSpec>();
  const strategies = new Map<string, string>();
  const nodeStrategies = new Map<string, NodeStrategy>();
  let computeSeconds = 0;
  ip.origins.forEach((o, i) => {
    const c = choice[i] ?? 0;
    if (o.kind === 'value') {
      layouts.set(o.value, o.specs[c] as ShardingSpec);
    } else if (o.kind === 'shared') {
      shared.set(o.value, o.specs[c] as ShardingSpec);
    } else {
      const s = o.strategies[c];
      if (!s) return;
      strategies.set(o.node.name, s.label);
      nodeStrategies.set(o.node.name, s);
      o.node.outputs.forEach((out, k) => out !== '' && s.outputs[k] && layouts.set(out, s.outputs[k] as ShardingSpec));
      computeSeconds += ip.computeSeconds[i]?.[c] ?? 0;
    }
  });
  // Collectives: replay the resharding plan of every edge at the chosen strategies.
  const collectives: PlannedCollective[] = [];
  const transfers: Transfer[] = [];
  const consumerName = (i: number): string => {
    const o = ip.origins[i];
    return !o ? '?' : o.kind === 'op' ? o.node.name : o.value;
  };
  for (const node of graph.nodes) {
    const to = ip.opIndex.get(node.name);
    const o = to === undefined ? undefined : ip.origins[to];
    if (to === undefined || !o || o.kind !== 'op') continue;
    const s = o.strategies[choice[to] ?? 0];
    node.inputs.forEach((v, k) => {
      const want = s?.inputs[k];
      const have = shared.get(v) ?? layouts.get(v);
      if (!want || !have || v === '') return;
      addSteps(v, have, want, consumerName(to), 'input', k);
    });
  }
  for (const [v, spec] of shared) {
    const from = layouts.get(v);
    const first = graph.nodes.find((n) => n.inputs.includes(v));
    if (from) addSteps(v, from, spec, first?.name ?? v, 'shared', undefined);
  }
  for (const [param, next] of roles.updates) {
    const have = shared.get(next) ?? layouts.get(next);
    const want = layouts.get(param);
    if (have && want) addSteps(next, have, want, param, 'update', undefined);
  }
  function addSteps(value: string, from: ShardingSpec, to: ShardingSpec, consumer: string, kind: Transfer['kind'], input: number | undefined): void {
    const t = graph.types.get(value);
    if (!t) return;
    const steps = resharder.reshard(from, to, t.shape.map(Number), dtypeBytes(t.dtype)).steps;
    transfers.push({ value, consumer, input, kind, from, to, steps });
    collectives.push(...reshardCollectives(steps, value, consumer, mesh));
  }
  const communicationSeconds = collectives.reduce((s, c) => s + c.seconds, 0);
  return { mesh, layouts, strategies, collectives, nodeStrategies, shared, transfers, computeSeconds, communicationSeconds, objective: ev.objective, memoryBytes: ev.memory[0] ?? 0, solution, problem: ip, memoryPrice: opts.memoryPrice ?? 0 };
}

/** `plan` with the bound its solve deferred (deferBound; lagrange.ts boundAtPrice), and the gap it gives. */
export function withBound(plan: IntraOpPlan, stepWeight?: PlanOptions['stepWeight']): IntraOpPlan {
  const s = plan.solution;
  if (s.bound !== -Infinity || s.status === 'infeasible') return plan;
  const bound = boundAtPrice(stepWeight ? weighted(plan.problem, stepWeight) : plan.problem.problem, plan.memoryPrice, s.choice, s.objective);
  const gap = (s.objective - bound) / Math.max(Math.abs(s.objective), 1e-12);
  // A bound that reaches the plan's cost proves it optimal (to the bound's 1e-6).
  return { ...plan, solution: { ...s, bound, gap, status: gap <= PROVEN_GAP ? 'optimal' : s.status } };
}

/**
 * Per strategy (or layout) and axis name: what its specs do on that axis, as a key, and
 * whether they use it at all. Strategies and layouts are objects shared by every node
 * with the same rule or shape on a mesh (build.ts caches them), so most are read once:
 * spelling them out for every node took 3% of a GPT-1.3B search.
 */
const axisUse = new WeakMap<object, Map<string, { readonly key: string; readonly used: boolean }>>();

function useOn(owner: object, specs: () => readonly (ShardingSpec | undefined)[], axis: string): { readonly key: string; readonly used: boolean } {
  let byAxis = axisUse.get(owner);
  if (!byAxis) axisUse.set(owner, (byAxis = new Map()));
  let use = byAxis.get(axis);
  if (!use) {
    const parts = specs().map((s) => (s ? `${s.dims.findIndex((d) => d.includes(axis))}${s.partial.includes(axis) ? 'p' : ''}` : ''));
    use = { key: parts.join(','), used: !parts.every((p) => p === '' || p === '-1') };
    byAxis.set(axis, use);
  }
  return use;
}

/** What each strategy does on each mesh axis, as small integers per node (0: nothing). */
function axisLabels(ip: IntraOpProblem, axes: readonly string[]): number[][][] {
  return ip.origins.map((o) => {
    const owners: { readonly owner: object; readonly specs: () => readonly (ShardingSpec | undefined)[] }[] = o.kind === 'op' ? o.strategies.map((s) => ({ owner: s, specs: () => [...s.outputs, ...s.inputs] })) : o.specs.map((s) => ({ owner: s, specs: () => [s] }));
    return axes.map((axis) => {
      const ids = new Map<string, number>();
      return owners.map(({ owner, specs }) => {
        const use = useOn(owner, specs, axis);
        // Unused everywhere is label 0, as axis descent expects.
        if (!use.used) return 0;
        let id = ids.get(use.key);
        if (id === undefined) ids.set(use.key, (id = ids.size + 1));
        return id;
      });
    });
  }).map((perAxis) => (perAxis[0] ?? []).map((_, k) => perAxis.map((l) => l[k] ?? 0)));
}

/** The collectives of a resharding's steps, as plans list them (a permute is a send and a recv on every device, CLI.md's kinds). */
export function reshardCollectives(steps: readonly ReshardStep[], value: string, consumer: string, mesh: DeviceMesh): PlannedCollective[] {
  const out: PlannedCollective[] = [];
  const size = (axis: string): number => mesh.axes.find((a) => a.name === axis)?.size ?? 1;
  for (const st of steps) {
    if (st.bytes === 0 && st.seconds === 0) continue;
    // Over axes of size 1 (a one-device stage) a collective moves nothing between devices.
    if (st.axes.length > 0 && st.axes.every((a) => size(a) === 1)) continue;
    if (st.kind === 'permute') {
      out.push({ kind: 'send', axes: st.axes, bytes: st.bytes, seconds: st.seconds, value, consumer });
      out.push({ kind: 'recv', axes: st.axes, bytes: st.bytes, seconds: 0, value, consumer });
    } else {
      out.push({ kind: st.kind, axes: st.axes, bytes: st.bytes, seconds: st.seconds, value, consumer });
    }
  }
  return out;
}

/**
 * The problem with per-step nodes (and the edges into them) scaled by `weight`. A value
 * several ops read is resharded once, before its first reader (planIntraOp's replay
 * names that reader as the consumer): when the reader runs once per step, so does the
 * reshard. Every gradient is one (Adam reads it twice), and its reduction across the
 * data-parallel devices was weighed once per micro-batch: M times its share of the step.
 */
function weighted(ip: IntraOpProblem, w: NonNullable<PlanOptions['stepWeight']>): Problem {
  const firstReader = new Map<string, string>();
  for (const o of ip.origins) if (o.kind === 'op') for (const v of o.node.inputs) if (v !== '' && !firstReader.has(v)) firstReader.set(v, o.node.name);
  const scaled = ip.origins.map((o) => (o.kind === 'op' ? w.names.has(o.node.name) : w.names.has(o.value) || (o.kind === 'shared' && w.names.has(firstReader.get(o.value) ?? ''))));
  return problemOf(
    ip.problem.nodes.map((n, i) => (scaled[i] ? { name: n.name, strategies: n.strategies.map((st) => ({ cost: st.cost * w.weight })) } : n)),
    ip.problem.edges.map((e) => (scaled[e.to] ? { from: e.from, to: e.to, costs: e.costs.map((row) => row.map((c) => c * w.weight)) } : e)),
    ip.problem.memory,
    ip.problem.ties,
  );
}
