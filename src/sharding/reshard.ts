/**
 * Resharding: the cheapest sequence of steps (steps.ts) turning one legal spec of a
 * tensor into another, priced by the cost model on the mesh's groups.
 *
 * Why a shortest path rather than a fixed recipe: costs depend on α-β per axis, the
 * tensor's size and which intermediate splits divide its shape, and the best order of
 * gathers, scatters and all-to-alls changes with them. The legal specs of one tensor on
 * one mesh are few (at most a few hundred on a 3-D mesh), so Dijkstra over them is cheap,
 * and every legal pair is connected (reduce and gather everything, then slice and mark
 * partial), so every cost is finite.
 *
 * Why these caches: the planner asks about the same tensors over and over. The graph
 * (specs and moves) depends on the shape only through which split counts divide which
 * dimension, so it is built once per rank and divisibility pattern; costs depend only on
 * the global bytes, so per (graph, bytes) the moves are priced once (by class: kind, axes
 * and divisor) and one Dijkstra per source gives the cheapest path to every target; each
 * plan object is kept, so a repeated query is a few map lookups.
 */
import type { CostModel } from '../../cost-models/cost-model.js';
import { AutoparError } from '../errors.js';
import { legalSpecs } from './enumerate.js';
import { meshToString, type DeviceMesh } from './mesh.js';
import { specKey, specToString, type ShardingSpec } from './spec.js';
import { collectiveOf, moveBytes, permuteClass, permuteMove, stepMoves, type StepKind, type StepMove } from './steps.js';
import { shardingProblem } from './verify.js';

export interface ReshardStep {
  readonly kind: StepKind;
  readonly axes: readonly string[];
  /** See `StepMove`: the dimension acted on (-1 for none) and an all-to-all's target dimension. */
  readonly dim: number;
  readonly toDim: number;
  /** nccl-tests convention (CLI.md): all-reduce the local buffer, all-gather its output, reduce-scatter its input, all-to-all and permute what each rank holds; 0 for local steps. */
  readonly bytes: number;
  readonly seconds: number;
  /** The spec after this step. */
  readonly spec: ShardingSpec;
}

export interface ReshardPlan {
  readonly steps: readonly ReshardStep[];
  readonly seconds: number;
}

interface Graph {
  readonly specs: readonly ShardingSpec[];
  readonly index: ReadonlyMap<string, number>;
  /** index by spec object: strategies share their spec objects, so most lookups hit here. */
  readonly byObject: WeakMap<ShardingSpec, number>;
  /** Moves of node i: `moves[start[i]] .. moves[start[i + 1] - 1]` (compressed rows). */
  readonly start: Int32Array;
  readonly target: Int32Array;
  /** The node each move leaves from. */
  readonly origin: Int32Array;
  readonly moves: readonly StepMove[];
  /** Moves with the same kind, axes and divisor cost the same: their price class (-1 for free local steps). */
  readonly priceClass: Int32Array;
  /** One move of each price class, to price it by. */
  readonly priced: readonly StepMove[];
  /** Per global tensor bytes: prices and shortest-path trees. */
  readonly bySize: Map<number, Sized>;
}

interface Sized {
  /** Seconds per price class. */
  readonly prices: Float64Array;
  /** Shortest-path trees by source node. */
  readonly trees: Map<number, Tree>;
}

interface Tree {
  readonly seconds: Float64Array;
  /** The move that reached each node; -1 for the source (every node is reached). */
  readonly via: Int32Array;
  readonly plans: Map<number, ReshardPlan>;
}

export interface ResharderStats {
  /** Distinct resharding graphs: one per tensor rank and divisibility pattern, not per shape. */
  readonly graphs: number;
  readonly trees: number;
  readonly plans: number;
}

export interface Resharder {
  readonly mesh: DeviceMesh;
  /** The cheapest way from `from` to `to` for a tensor of `globalShape` with `dtypeBytes` bytes per element. Throws E_INTERNAL on an illegal spec. */
  reshard(from: ShardingSpec, to: ShardingSpec, globalShape: readonly number[], dtypeBytes: number): ReshardPlan;
  /** `reshard(...).seconds` without building the plan (for resharding matrices). */
  seconds(from: ShardingSpec, to: ShardingSpec, globalShape: readonly number[], dtypeBytes: number): number;
  /**
   * `seconds` of every (from, to) pair, to[j] undefined giving 0: the intra-op problem's
   * edge matrices, with the shape looked up once and each spec once (not per pair).
   * Sources with the same spec share their row.
   */
  secondsMatrix(from: readonly ShardingSpec[], to: readonly (ShardingSpec | undefined)[], globalShape: readonly number[], dtypeBytes: number): readonly (readonly number[])[];
  stats(): ResharderStats;
  /** Drops every cache. */
  clear(): void;
}

/**
 * Which split counts divide each dimension. Legality of every spec, hence the graph,
 * depends on the shape only through this, so [1024, 4096] and [64, 64] share a graph.
 */
function divisibility(shape: readonly number[], factors: readonly number[]): string {
  return shape.map((size) => factors.map((f) => (size % f === 0 ? '1' : '0')).join('')).join('.');
}

/** Every product of a subset of the axis sizes, above 1. */
function splitFactors(mesh: DeviceMesh): number[] {
  let products = [1];
  for (const a of mesh.axes) products = [...products, ...products.map((p) => p * a.size)];
  return [...new Set(products)].filter((p) => p > 1).sort((a, b) => a - b);
}

export interface ResharderOptions {
  /**
   * Allow one collective over several axes at once (default true): the cost model may
   * then price it as a flat ring/tree or hierarchically. False keeps collectives to one
   * axis each (for a runtime without multi-axis groups); permutes still span the axes
   * they reorder.
   */
  readonly multiAxisCollectives?: boolean;
}

function buildGraph(shape: readonly number[], mesh: DeviceMesh, multiAxis: boolean): Graph {
  const specs = legalSpecs(shape, mesh);
  const index = new Map(specs.map((s, i) => [specKey(s), i]));
  const byObject = new WeakMap(specs.map((s, i) => [s, i]));
  const classes = new Map<string, number[]>();
  specs.forEach((s, i) => {
    const k = permuteClass(s, mesh);
    const list = classes.get(k);
    if (list) list.push(i);
    else classes.set(k, [i]);
  });
  const start = new Int32Array(specs.length + 1);
  const targets: number[] = [];
  const origins: number[] = [];
  const moves: StepMove[] = [];
  specs.forEach((s, i) => {
    start[i] = moves.length;
    for (const m of stepMoves(shape, s, mesh)) {
      if (!multiAxis && m.axes.length > 1) continue;
      const j = index.get(specKey(m.spec));
      if (j === undefined) throw new AutoparError('E_INTERNAL', `resharding move ${m.kind} from ${specToString(s)} gives ${specToString(m.spec)}, which is not a legal spec of [${shape.join(', ')}]`);
      moves.push(m);
      targets.push(j);
      origins.push(i);
    }
    for (const j of classes.get(permuteClass(s, mesh)) ?? []) {
      const other = specs[j];
      if (j === i || !other) continue;
      moves.push(permuteMove(s, other, mesh));
      targets.push(j);
      origins.push(i);
    }
  });
  start[specs.length] = moves.length;
  const priceIds = new Map<string, number>();
  const priced: StepMove[] = [];
  const priceClass = Int32Array.from(moves, (m) => {
    if (collectiveOf(m.kind) === undefined) return -1;
    const key = `${m.kind}|${m.axes.join(',')}|${m.divisor}`;
    let id = priceIds.get(key);
    if (id === undefined) {
      id = priced.length;
      priced.push(m);
      priceIds.set(key, id);
    }
    return id;
  });
  return { specs, index, byObject, start, target: Int32Array.from(targets), origin: Int32Array.from(origins), moves, priceClass, priced, bySize: new Map() };
}

/**
 * A binary min-heap of (seconds, hops, node), ties going to fewer steps. Entries carry
 * their key as pushed: a node whose distance drops is pushed again and the stale entry
 * skipped when popped (keys read from the live distance arrays would corrupt the heap).
 */
function swapIn(a: number[], i: number, j: number): void {
  const t = a[i] ?? 0;
  a[i] = a[j] ?? 0;
  a[j] = t;
}

class Frontier {
  private readonly seconds: number[] = [];
  private readonly hops: number[] = [];
  private readonly nodes: number[] = [];
  get size(): number {
    return this.nodes.length;
  }
  private less(i: number, j: number): boolean {
    const si = this.seconds[i] ?? 0;
    const sj = this.seconds[j] ?? 0;
    return si < sj || (si === sj && (this.hops[i] ?? 0) < (this.hops[j] ?? 0));
  }
  private swap(i: number, j: number): void {
    swapIn(this.seconds, i, j);
    swapIn(this.hops, i, j);
    swapIn(this.nodes, i, j);
  }
  push(node: number, seconds: number, hops: number): void {
    this.nodes.push(node);
    this.seconds.push(seconds);
    this.hops.push(hops);
    let i = this.nodes.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** The node of the least entry, removed. */
  pop(): number {
    const top = this.nodes[0] ?? -1;
    const last = this.nodes.length - 1;
    this.swap(0, last);
    this.nodes.pop();
    this.seconds.pop();
    this.hops.pop();
    const n = this.nodes.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && this.less(l + 1, l) ? l + 1 : l;
      if (!this.less(c, i)) break;
      this.swap(i, c);
      i = c;
    }
    return top;
  }
}

export function createResharder(mesh: DeviceMesh, cost: CostModel, options: ResharderOptions = {}): Resharder {
  const multiAxis = options.multiAxisCollectives ?? true;
  const factors = splitFactors(mesh);
  const graphs = new Map<string, Graph>();
  /** Shape (joined) → its graph and global element count: what a repeated query looks up first. */
  const shapes = new Map<string, { readonly graph: Graph; readonly elements: number }>();
  let plans = 0;

  const sizedOf = (g: Graph, globalBytes: number): Sized => {
    let sized = g.bySize.get(globalBytes);
    if (sized) return sized;
    const prices = Float64Array.from(g.priced, (m) => {
      const kind = collectiveOf(m.kind);
      const s = kind === undefined ? 0 : cost.collective({ kind, bytes: moveBytes(m, globalBytes) }, mesh.group(m.axes)).seconds;
      if (!(s >= 0 && Number.isFinite(s))) throw new AutoparError('E_INTERNAL', `cost model '${cost.name}' priced ${m.kind} over ${m.axes.join(',')} at ${s} s`);
      return s;
    });
    sized = { prices, trees: new Map() };
    g.bySize.set(globalBytes, sized);
    return sized;
  };

  const dijkstra = (g: Graph, prices: Float64Array, source: number): Tree => {
    const n = g.specs.length;
    const seconds = new Float64Array(n).fill(Infinity);
    const hops = new Int32Array(n).fill(0x7fffffff);
    const via = new Int32Array(n).fill(-1);
    const done = new Uint8Array(n);
    seconds[source] = 0;
    hops[source] = 0;
    const frontier = new Frontier();
    frontier.push(source, 0, 0);
    while (frontier.size > 0) {
      const u = frontier.pop();
      if (done[u]) continue; // a stale entry: u was pushed again with a better key
      done[u] = 1;
      const su = seconds[u] ?? 0;
      const hu = (hops[u] ?? 0) + 1;
      const end = g.start[u + 1] ?? 0;
      for (let e = g.start[u] ?? 0; e < end; e++) {
        const v = g.target[e] ?? 0;
        if (done[v]) continue;
        const c = g.priceClass[e] ?? -1;
        const sv = su + (c < 0 ? 0 : (prices[c] ?? 0));
        const old = seconds[v] ?? Infinity;
        if (sv < old || (sv === old && hu < (hops[v] ?? 0))) {
          seconds[v] = sv;
          hops[v] = hu;
          via[v] = e;
          frontier.push(v, sv, hu);
        }
      }
    }
    return { seconds, via, plans: new Map() };
  };

  const planOf = (g: Graph, prices: Float64Array, tree: Tree, target: number, globalBytes: number): ReshardPlan => {
    const edges: number[] = [];
    for (let e = tree.via[target] ?? -1; e >= 0; e = tree.via[g.origin[e] ?? 0] ?? -1) edges.push(e);
    edges.reverse();
    const steps = edges.map((e): ReshardStep => {
      const m = g.moves[e];
      if (!m) throw new AutoparError('E_INTERNAL', `resharding move ${e} missing`);
      const c = g.priceClass[e] ?? -1;
      return Object.freeze({ kind: m.kind, axes: m.axes, dim: m.dim, toDim: m.toDim, bytes: moveBytes(m, globalBytes), seconds: c < 0 ? 0 : (prices[c] ?? 0), spec: m.spec });
    });
    return Object.freeze({ steps: Object.freeze(steps), seconds: tree.seconds[target] ?? 0 });
  };

  const shapeOf = (shape: readonly number[]): { readonly graph: Graph; readonly elements: number } => {
    const key = shape.join(',');
    let entry = shapes.get(key);
    if (entry) return entry;
    if (!shape.every((s) => Number.isInteger(s) && s >= 0)) throw new AutoparError('E_INTERNAL', `resharding needs a concrete shape, got [${shape.join(', ')}]`);
    const signature = `${shape.length}:${divisibility(shape, factors)}`;
    let graph = graphs.get(signature);
    if (!graph) {
      graph = buildGraph([...shape], mesh, multiAxis);
      graphs.set(signature, graph);
    }
    entry = { graph, elements: shape.reduce((p, s) => p * s, 1) };
    shapes.set(key, entry);
    return entry;
  };

  const illegal = (which: string, spec: ShardingSpec, shape: readonly number[]): never => {
    const why = shardingProblem(shape, spec, mesh) ?? 'not among the legal specs';
    throw new AutoparError('E_INTERNAL', `resharding a tensor of shape [${shape.join(', ')}]: the ${which} sharding ${specToString(spec)} on ${meshToString(mesh)} is illegal: ${why}`);
  };

  const locate = (from: ShardingSpec, to: ShardingSpec, globalShape: readonly number[], dtypeBytes: number) => {
    if (!(dtypeBytes > 0)) throw new AutoparError('E_INTERNAL', `resharding needs a positive element size, got ${dtypeBytes} bytes`);
    const { graph, elements } = shapeOf(globalShape);
    const source = graph.index.get(specKey(from));
    if (source === undefined) return illegal('source', from, globalShape);
    const target = graph.index.get(specKey(to));
    if (target === undefined) return illegal('target', to, globalShape);
    const globalBytes = elements * dtypeBytes;
    const sized = sizedOf(graph, globalBytes);
    let tree = sized.trees.get(source);
    if (!tree) {
      tree = dijkstra(graph, sized.prices, source);
      sized.trees.set(source, tree);
    }
    return { graph, sized, tree, target, globalBytes };
  };

  return {
    mesh,
    reshard(from, to, globalShape, dtypeBytes) {
      const { graph, sized, tree, target, globalBytes } = locate(from, to, globalShape, dtypeBytes);
      let plan = tree.plans.get(target);
      if (!plan) {
        plan = planOf(graph, sized.prices, tree, target, globalBytes);
        tree.plans.set(target, plan);
        plans++;
      }
      return plan;
    },
    seconds(from, to, globalShape, dtypeBytes) {
      const { tree, target } = locate(from, to, globalShape, dtypeBytes);
      return tree.seconds[target] ?? Infinity;
    },
    secondsMatrix(from, to, globalShape, dtypeBytes) {
      if (!(dtypeBytes > 0)) throw new AutoparError('E_INTERNAL', `resharding needs a positive element size, got ${dtypeBytes} bytes`);
      const { graph, elements } = shapeOf(globalShape);
      const sized = sizedOf(graph, elements * dtypeBytes);
      const indexOf = (spec: ShardingSpec): number | undefined => {
        let i = graph.byObject.get(spec);
        if (i === undefined) {
          i = graph.index.get(specKey(spec));
          if (i !== undefined) graph.byObject.set(spec, i);
        }
        return i;
      };
      const targets = new Int32Array(to.length);
      to.forEach((spec, j) => {
        if (!spec) {
          targets[j] = -1;
          return;
        }
        const t = indexOf(spec);
        targets[j] = t === undefined ? illegal('target', spec, globalShape) : t;
      });
      // Strategies share specs: one row per distinct source.
      const rows = new Map<number, number[]>();
      const out = new Array<number[]>(from.length);
      from.forEach((spec, i) => {
        const source = indexOf(spec);
        if (source === undefined) return illegal('source', spec, globalShape);
        let row = rows.get(source);
        if (!row) {
          let tree = sized.trees.get(source);
          if (!tree) {
            tree = dijkstra(graph, sized.prices, source);
            sized.trees.set(source, tree);
          }
          const seconds = tree.seconds;
          row = new Array<number>(targets.length);
          for (let j = 0; j < targets.length; j++) {
            const t = targets[j]!;
            row[j] = t < 0 ? 0 : (seconds[t] ?? Infinity);
          }
          rows.set(source, row);
        }
        out[i] = row;
      });
      return out;
    },
    stats() {
      let trees = 0;
      for (const g of graphs.values()) for (const sized of g.bySize.values()) trees += sized.trees.size;
      return { graphs: graphs.size, trees, plans };
    },
    clear() {
      graphs.clear();
      shapes.clear();
      plans = 0;
    },
  };
}

const resharders = new WeakMap<CostModel, WeakMap<DeviceMesh, Resharder>>();

/** `createResharder(mesh, cost).reshard(...)` with one shared resharder (and its caches) per (mesh, cost model). */
export function reshard(mesh: DeviceMesh, cost: CostModel, from: ShardingSpec, to: ShardingSpec, globalShape: readonly number[], dtypeBytes: number): ReshardPlan {
  let byMesh = resharders.get(cost);
  if (!byMesh) {
    byMesh = new WeakMap();
    resharders.set(cost, byMesh);
  }
  let r = byMesh.get(mesh);
  if (!r) {
    r = createResharder(mesh, cost);
    byMesh.set(mesh, r);
  }
  return r.reshard(from, to, globalShape, dtypeBytes);
}
