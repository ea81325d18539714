/**
 * Turns a (training) graph on one mesh into the solver's numeric problem. Problem
 * nodes are the graph's ops (strategies from their factor rules) plus one node per
 * graph input and initializer (strategies: every even, non-partial layout), so that a
 * parameter's layout, hence ZeRO, is a choice like any other. Edges carry resharding
 * times; a parameter's update feeds back into the parameter (the next step must find
 * it in the layout it chose). One memory constraint per device: persistent values
 * (parameters, optimizer states, inputs), gradients and saved activations.
 */
import type { CostModel } from '../../cost-models/cost-model.js';
import type { DeviceType, Dtype } from '../../src/cluster/types.js';
import { AutoparError } from '../../src/errors.js';
import { type DType, dtypeBytes, isFloat } from '../../src/ir/dtype.js';
import { numel } from '../../src/ir/host-tensor.js';
import type { Graph, Node } from '../../src/ir/types.js';
import { nodeCost } from '../../src/ops/cost.js';
import type { OpCost } from '../../src/ops/op.js';
import { opFor } from '../../src/ops/registry.js';
import { replicatedRule, type ShardingRule } from '../../src/ops/sharding-rule.js';
import { isConcrete } from '../../src/ops/util.js';
import { legalSpecs } from '../../src/sharding/enumerate.js';
import type { DeviceMesh } from '../../src/sharding/mesh.js';
import type { Resharder } from '../../src/sharding/reshard.js';
import { shardBytes, type ShardingSpec } from '../../src/sharding/spec.js';
import { type Problem, type ProblemEdge, problemOf } from '../../src/solver/problem.js';
import { repeatedLayerTies } from './repeat.js';
import { enumerateStrategies, type NodeStrategy } from './strategies.js';

/** What the planner needs to know about a value besides its type. */
export interface ValueRoles {
  /** Parameter -> its updated value (loop-carried: the update must land in the parameter's layout). */
  readonly updates: ReadonlyMap<string, string>;
  /** Values resident through the step besides initializers: gradients, saved activations. */
  readonly resident: ReadonlySet<string>;
}

export interface IntraOpInput {
  readonly graph: Graph;
  readonly roles: ValueRoles;
  readonly mesh: DeviceMesh;
  readonly cost: CostModel;
  readonly device: DeviceType;
  readonly resharder: Resharder;
  /** Per-device memory budget in bytes (default: the device's memory). */
  readonly memoryBudget?: number;
  /** Layouts fixed in advance (pinned by the user or a manual strategy), by value name. */
  readonly pinned?: ReadonlyMap<string, ShardingSpec>;
  /** Tie repeated layers (default true): one choice per group of identical blocks. */
  readonly tieRepeats?: boolean;
}

/** Where a problem node came from. */
export type Origin =
  | { readonly kind: 'op'; readonly node: Node; readonly strategies: readonly NodeStrategy[] }
  | { readonly kind: 'value'; readonly value: string; readonly specs: readonly ShardingSpec[] }
  /** A value read by several ops: resharded once into a layout they share, then fanned out. */
  | { readonly kind: 'shared'; readonly value: string; readonly specs: readonly ShardingSpec[] };

export interface IntraOpProblem {
  readonly problem: Problem;
  readonly origins: readonly Origin[];
  /** Problem node of each op node and of each value node, by name. */
  readonly opIndex: ReadonlyMap<string, number>;
  readonly valueIndex: ReadonlyMap<string, number>;
  /** Producer of each value: problem node and output position. */
  readonly producer: ReadonlyMap<string, { readonly node: number; readonly output: number }>;
  /** For values read by several ops: the shared node their readers take them from. */
  readonly feeder: ReadonlyMap<string, { readonly node: number; readonly output: number }>;
  /** Compute seconds of each node's strategies (the costs without the memory tie-break). */
  readonly computeSeconds: readonly (readonly number[])[];
}

/**
 * Seconds charged per resident byte, to break ties between equally fast plans in
 * favour of the one that keeps less in memory (e.g. Megatron's row-parallel
 * projection keeps its input split; gathering it first costs the same time but keeps
 * it whole). 1e-14 s/B is 10 µs per GB: far below real differences, above the
 * solver's 1e-10 s tolerance for a MiB.
 */
export const MEMORY_TIE_BREAK = 1e-14;

const SCALAR: ShardingSpec = { dims: [], partial: [] };

function costDtype(dt: DType): Dtype {
  switch (dt) {
    case 'float64':
    case 'float16':
    case 'bfloat16':
      return dt;
    default:
      return 'float32';
  }
}

function costKind(k: OpCost['kind']): 'matmul' | 'conv' | 'elementwise' | 'reduction' | 'data-movement' | 'other' {
  switch (k) {
    case 'matmul':
    case 'conv':
    case 'elementwise':
    case 'data-movement':
      return k;
    case 'reduce':
      return 'reduction';
    case 'none':
      return 'other';
  }
}

function shapeOf(g: Graph, name: string): number[] {
  const t = g.types.get(name);
  if (!t || !isConcrete(t.shape)) throw new AutoparError('E_DIM', `value '${name}' has no static shape; bind symbolic dimensions first`);
  return [...t.shape];
}

const strategyCache = new WeakMap<DeviceMesh, Map<string, readonly NodeStrategy[]>>();

/**
 * enumerateStrategies, shared by every node with the same rule on the same mesh (a
 * transformer block repeats its rules; the inter-op pass builds many problems on one
 * mesh): the same strategy objects, so their specs' keys are computed once.
 */
function strategiesOf(f: NodeFacts, mesh: DeviceMesh): readonly NodeStrategy[] {
  let byRule = strategyCache.get(mesh);
  if (!byRule) strategyCache.set(mesh, (byRule = new Map()));
  let list = byRule.get(f.ruleKey);
  if (!list) {
    // A scalar input has an empty rule row, which the enumerator reads as 'free'; it must
    // still arrive as the value, not as a partial sum (a mean's partials feeding a loss).
    list = enumerateStrategies(f.rule, mesh, f.outRanks).map((s) => (s.inputs.some((sp, i) => !sp && f.scalar[i]) ? { ...s, inputs: s.inputs.map((sp, i) => sp ?? (f.scalar[i] ? SCALAR : sp)) } : s));
    byRule.set(f.ruleKey, list);
  }
  return list;
}

/** What a problem needs of an op node whatever the mesh. */
interface NodeFacts {
  /** Its sharding rule, constant inputs' rows dropped (constants never travel: they need no layout). */
  readonly rule: ShardingRule;
  /** The rule and output ranks spelled out: strategiesOf's key. */
  readonly ruleKey: string;
  readonly outRanks: readonly number[];
  /** Inputs that are scalars, which must arrive whole. */
  readonly scalar: readonly boolean[];
  readonly full: OpCost;
  readonly inShapes: readonly (readonly number[])[];
  readonly outShapes: readonly (readonly number[])[];
  readonly inBytes: readonly number[];
  readonly outBytes: readonly number[];
  readonly dtype: Dtype;
}

/** A graph's mesh-independent facts: per op node, and the problem nodes' labels (repeatedLayerTies). */
interface GraphFacts {
  readonly nodes: readonly NodeFacts[];
  /** Values several ops read that an op produces: each gets a shared node, in this order. */
  readonly shared: readonly string[];
  /** Each problem node's initial label (values, then ops, then shared values), and its class number. */
  readonly labels: readonly string[];
  readonly labelClasses: readonly number[];
  /** The ties found where each label class's nodes had equal strategy counts (tiesOf). */
  ties?: number[][];
}

/**
 * The inter-op pass builds each layer's problem on tens of meshes: what does not depend
 * on the mesh (rules, costs of the whole op, shapes, labels) is worked out once per
 * graph (graphs are immutable).
 */
const factsCache = new WeakMap<Graph, GraphFacts>();

function graphFacts(g: Graph): GraphFacts {
  const known = factsCache.get(g);
  if (known) return known;
  const bytesOf = (name: string): number => dtypeBytes(g.types.get(name)?.dtype ?? 'float32');
  const nodes = g.nodes.map((node): NodeFacts => {
    const op = opFor(node, g.opset);
    const inTypes = node.inputs.map((n) => (n === '' ? undefined : { dtype: g.types.get(n)?.dtype ?? 'float32', shape: shapeOf(g, n) }));
    const outTypes = node.outputs.map((o) => ({ dtype: g.types.get(o)?.dtype ?? 'float32', shape: o === '' ? [] : shapeOf(g, o) }));
    const isConstant = (i: number): boolean => g.constants.has(node.inputs[i] ?? '') || node.inputs[i] === '';
    const sctx = { node, opset: g.opset, inputs: inTypes, outputs: outTypes, isConstant, constant: (i: number) => g.constants.get(node.inputs[i] ?? '') };
    const rule: ShardingRule = op.shardingRule(sctx) ?? replicatedRule(sctx);
    const ruleNoConst: ShardingRule = { ...rule, inputs: rule.inputs.map((d, i) => (isConstant(i) ? [] : d)) };
    const outRanks = outTypes.map((t) => t.shape.length);
    const scalar = node.inputs.map((_, i) => !isConstant(i) && inTypes[i]?.shape.length === 0);
    return {
      rule: ruleNoConst,
      ruleKey: JSON.stringify([ruleNoConst.factors, ruleNoConst.inputs, ruleNoConst.outputs, ruleNoConst.linear === true, outRanks, scalar]),
      outRanks,
      scalar,
      full: nodeCost(g, node),
      inShapes: node.inputs.map((n) => (n === '' ? [] : shapeOf(g, n))),
      outShapes: outTypes.map((t) => t.shape),
      inBytes: node.inputs.map((n) => (n === '' ? 0 : bytesOf(n))),
      outBytes: node.outputs.map((o) => (o === '' ? 0 : bytesOf(o))),
      dtype: costDtype(g.types.get(node.outputs[0] ?? '')?.dtype ?? 'float32'),
    };
  });
  const shared = sharedValues(g);
  const labels = [
    ...[...g.inputs.map((i) => i.name), ...g.initializers.keys()].map((v) => `value:${g.types.get(v)?.dtype}:${shapeOf(g, v).join('x')}`),
    ...g.nodes.map((n) => nodeLabel(g, n)),
    ...shared.map((v) => `shared:${g.types.get(v)?.dtype}:${shapeOf(g, v).join('x')}`),
  ];
  const ids = new Map<string, number>();
  const labelClasses = labels.map((l) => {
    let id = ids.get(l);
    if (id === undefined) ids.set(l, (id = ids.size));
    return id;
  });
  const facts: GraphFacts = { nodes, shared, labels, labelClasses };
  factsCache.set(g, facts);
  return facts;
}

/**
 * The ties of `problem` (built from `facts`' graph). Where each label class's nodes have
 * equal strategy counts, the refinement starts from the label classes themselves and
 * refines them over the same edges (built in the same order on every mesh), so the ties
 * found on one such mesh hold on every other: found once per graph, found again where
 * pins left a class's nodes different counts.
 */
function tiesOf(facts: GraphFacts, problem: Problem): number[][] {
  if (facts.labels.length !== problem.nodes.length) throw new AutoparError('E_INTERNAL', `intra-op: ${facts.labels.length} labels for ${problem.nodes.length} problem nodes`);
  const counts: number[] = [];
  const uniform = problem.nodes.every((n, i) => {
    const c = facts.labelClasses[i] as number;
    counts[c] ??= n.strategies.length;
    return counts[c] === n.strategies.length;
  });
  if (uniform && facts.ties) return facts.ties;
  const groups = repeatedLayerTies(problem, facts.labels);
  if (uniform) facts.ties = groups;
  return groups;
}

/** Values several ops read that an op produces, in the order the problem gives them shared nodes. */
function sharedValues(g: Graph): string[] {
  const readers = new Map<string, number>();
  for (const node of g.nodes) for (const v of new Set(node.inputs)) if (v !== '' && !g.constants.has(v)) readers.set(v, (readers.get(v) ?? 0) + 1);
  const produced = new Set(g.nodes.flatMap((n) => n.outputs.filter((o) => o !== '')));
  return [...readers].filter(([v, count]) => count >= 2 && produced.has(v)).map(([v]) => v);
}

const layoutCache = new WeakMap<DeviceMesh, Map<string, readonly ShardingSpec[]>>();

/**
 * The layouts a value of this shape may take on the mesh (every legal spec without a
 * partial axis), the same objects for every value of the shape: the resharder then finds
 * them by identity (a lookup by key string was a tenth of building a problem).
 */
function layoutsOf(shape: readonly number[], mesh: DeviceMesh): readonly ShardingSpec[] {
  let byShape = layoutCache.get(mesh);
  if (!byShape) layoutCache.set(mesh, (byShape = new Map()));
  const key = shape.join(',');
  let list = byShape.get(key);
  if (!list) byShape.set(key, (list = legalSpecs(shape, mesh).filter((s) => s.partial.length === 0)));
  return list;
}

export function buildIntraOpProblem(inp: IntraOpInput): IntraOpProblem {
  const { graph: g, mesh, cost, device, resharder } = inp;
  const origins: Origin[] = [];
  const nodes: Problem['nodes'][number][] = [];
  const memoryTerms: { node: number; bytes: number[] }[] = [];
  const edges: ProblemEdge[] = [];
  const opIndex = new Map<string, number>();
  const valueIndex = new Map<string, number>();
  const producer = new Map<string, { node: number; output: number }>();
  const computeSeconds: number[][] = [];
  const bytesOf = (name: string): number => dtypeBytes(g.types.get(name)?.dtype ?? 'float32');

  // Value nodes: graph inputs and initializers choose their own layout.
  const valueNames = [...g.inputs.map((i) => i.name), ...g.initializers.keys()];
  for (const v of valueNames) {
    const shape = shapeOf(g, v);
    const pin = inp.pinned?.get(v);
    const specs = pin ? [pin] : layoutsOf(shape, mesh);
    const idx = nodes.length;
    const bytes = specs.map((s) => shardBytes(shape, bytesOf(v), s, mesh));
    nodes.push({ name: v, strategies: bytes.map((b) => ({ cost: b * MEMORY_TIE_BREAK })) });
    computeSeconds.push(bytes.map(() => 0));
    origins.push({ kind: 'value', value: v, specs });
    valueIndex.set(v, idx);
    producer.set(v, { node: idx, output: 0 });
    memoryTerms.push({ node: idx, bytes });
  }

  const facts = graphFacts(g);
  g.nodes.forEach((node, n) => {
    const f = facts.nodes[n] as NodeFacts;
    const { full, inShapes, outShapes, inBytes, outBytes } = f;
    let strategies = strategiesOf(f, mesh);
    const pinnedOut = node.outputs.map((o) => inp.pinned?.get(o));
    if (pinnedOut.some((p) => p)) {
      strategies = strategies.filter((s) => pinnedOut.every((p, o) => !p || specKeyEq(p, s.outputs[o])));
      if (strategies.length === 0) throw new AutoparError('E_USAGE', `node '${node.name}': no strategy produces the pinned layout of its outputs`);
    }
    const idx = nodes.length;
    const resident = node.outputs.map((o) => o !== '' && inp.roles.resident.has(o));
    const residentBytes = strategies.map((s) => node.outputs.reduce((sum, o, k) => (resident[k] && s.outputs[k] ? sum + shardBytes(outShapes[k] ?? [], outBytes[k] ?? 0, s.outputs[k] as ShardingSpec, mesh) : sum), 0));
    const seconds: number[] = [];
    computeSeconds.push(seconds);
    nodes.push({
      name: node.name,
      strategies: strategies.map((s, si) => {
        // Local bytes from the local shapes; work divided by the split.
        let bytes = 0;
        node.inputs.forEach((n, i) => {
          if (n === '') return;
          const spec = s.inputs[i];
          const shape = inShapes[i] ?? [];
          bytes += spec ? shardBytes(shape, inBytes[i] ?? 0, spec, mesh) : numel(shape) * (inBytes[i] ?? 0);
        });
        node.outputs.forEach((o, k) => {
          const spec = s.outputs[k];
          if (o !== '' && spec) bytes += shardBytes(outShapes[k] ?? [], outBytes[k] ?? 0, spec, mesh);
        });
        const t = cost.compute({ flops: full.flops / s.divisor, bytes: full.kind === 'none' ? 0 : bytes, dtype: f.dtype, kind: costKind(full.kind) }, device);
        seconds.push(full.kind === 'none' ? 0 : t.seconds);
        return { cost: (seconds[si] ?? 0) + (residentBytes[si] ?? 0) * MEMORY_TIE_BREAK };
      }),
    });
    origins.push({ kind: 'op', node, strategies });
    opIndex.set(node.name, idx);
    node.outputs.forEach((o, k) => o !== '' && producer.set(o, { node: idx, output: k }));
    if (resident.some((r) => r)) memoryTerms.push({ node: idx, bytes: residentBytes });
  });

  const specOut = (pnode: number, output: number, i: number): ShardingSpec => {
    const o = origins[pnode];
    if (!o) throw new AutoparError('E_INTERNAL', 'intra-op: missing origin');
    if (o.kind === 'op') return o.strategies[i]?.outputs[output] as ShardingSpec;
    return o.specs[i] as ShardingSpec;
  };
  const matrix = (from: number, output: number, to: number, want: (j: number) => ShardingSpec | undefined, value: string): readonly (readonly number[])[] => {
    const shape = shapeOf(g, value);
    const b = bytesOf(value);
    const nFrom = nodes[from]?.strategies.length ?? 0;
    const nTo = nodes[to]?.strategies.length ?? 0;
    const sources = new Array<ShardingSpec>(nFrom);
    for (let i = 0; i < nFrom; i++) sources[i] = specOut(from, output, i);
    const targets = new Array<ShardingSpec | undefined>(nTo);
    for (let j = 0; j < nTo; j++) targets[j] = want(j);
    return resharder.secondsMatrix(sources, targets, shape, b);
  };

  // A value several ops read is resharded once (an all-reduce of a partial sum is paid
  // once, not per reader): a shared node between its producer and its readers.
  const feeder = new Map<string, { node: number; output: number }>();
  for (const v of facts.shared) {
    const p = producer.get(v);
    if (!p) continue;
    const specs = layoutsOf(shapeOf(g, v), mesh);
    const idx = nodes.length;
    nodes.push({ name: `${v} (shared)`, strategies: specs.map(() => ({ cost: 0 })) });
    computeSeconds.push(specs.map(() => 0));
    origins.push({ kind: 'shared', value: v, specs });
    edges.push({ from: p.node, to: idx, costs: matrix(p.node, p.output, idx, (j) => specs[j], v) });
    feeder.set(v, { node: idx, output: 0 });
  }

  // Data edges: producer (or shared) output -> consumer input.
  for (const node of g.nodes) {
    const to = opIndex.get(node.name) as number;
    const o = origins[to];
    if (!o || o.kind !== 'op') continue;
    node.inputs.forEach((v, i) => {
      const p = feeder.get(v) ?? producer.get(v);
      if (!p || v === '' || g.constants.has(v)) return;
      edges.push({ from: p.node, to, costs: matrix(p.node, p.output, to, (j) => o.strategies[j]?.inputs[i], v) });
    });
  }
  // Loop-carried edges: the update must arrive in the parameter's (and state's) layout.
  for (const [param, next] of inp.roles.updates) {
    const p = producer.get(next);
    const to = valueIndex.get(param);
    const o = to === undefined ? undefined : origins[to];
    if (!p || to === undefined || !o || o.kind !== 'value') continue;
    edges.push({ from: p.node, to, costs: matrix(p.node, p.output, to, (j) => o.specs[j], next) });
  }

  const budget = inp.memoryBudget ?? device.memoryBytes;
  const untied = problemOf(nodes, edges, [{ budget, terms: memoryTerms, name: 'device memory' }], []);
  const ties = inp.tieRepeats === false ? [] : tiesOf(facts, untied);
  return {
    problem: problemOf(untied.nodes, untied.edges, untied.memory, ties),
    origins,
    opIndex,
    valueIndex,
    producer,
    feeder,
    computeSeconds,
  };
}

/** What makes two ops interchangeable before looking at neighbours: type, attributes, shapes. */
function nodeLabel(g: Graph, node: Node): string {
  const attrs = [...node.attrs].map(([k, v]) => `${k}=${JSON.stringify(v.kind === 'tensor' ? Array.from(v.value.data.slice(0, 16)) : v.value)}`).join(';');
  const shapes = [...node.inputs, ...node.outputs].map((v) => (v === '' ? '_' : (g.types.get(v)?.shape.join('x') ?? '?'))).join(',');
  const consts = node.inputs.map((v) => (g.constants.has(v) ? Array.from(g.constants.get(v)?.data.slice(0, 8) ?? []).join(':') : '')).join(',');
  return `${node.op}|${attrs}|${shapes}|${consts}`;
}

function specKeyEq(a: ShardingSpec, b: ShardingSpec | undefined): boolean {
  if (!b) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Roles of a training graph's values for the planner. */
export function trainingRoles(tg: { readonly graph: Graph; readonly grads: ReadonlyMap<string, string>; readonly updates: ReadonlyMap<string, string>; readonly states: ReadonlyMap<string, string>; readonly forwardNodes: number }): ValueRoles {
  const g = tg.graph;
  const updates = new Map([...tg.updates, ...tg.states]);
  const forward = new Set<string>();
  g.nodes.slice(0, tg.forwardNodes).forEach((n) => n.outputs.forEach((o) => forward.add(o)));
  const resident = new Set<string>(tg.grads.values());
  for (const n of g.nodes.slice(tg.forwardNodes)) for (const i of n.inputs) if (forward.has(i) && isFloat(g.types.get(i)?.dtype ?? 'int64')) resident.add(i);
  return { updates, resident };
}
