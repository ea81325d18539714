/**
 * Resharding queries per second on the meshes of a 2x8 A100 cluster: cold (a fresh
 * resharder per query: graph, prices, one Dijkstra), a new source on a built graph (one
 * Dijkstra), a new target from a known source (path read back), and memoized (repeat).
 * Run: `npx tsc -p tsconfig.json && node dist/bench/reshard.js`.
 */
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { parseCluster } from '../src/cluster/load.js';
import { logicalMesh } from '../src/cluster/mesh.js';
import { legalSpecs } from '../src/sharding/enumerate.js';
import { meshFromLogical, meshToString, type DeviceMesh } from '../src/sharding/mesh.js';
import { createResharder } from '../src/sharding/reshard.js';
import type { ShardingSpec } from '../src/sharding/spec.js';
import { rng } from '../src/solver/random-problem.js';

const cluster = parseCluster('hosts: 2\ndevicesPerHost: 8\ndevice: A100-80GB\nintraHost: nvlink3\ninterHost: ib-hdr\n', '2x8-a100');
const cost = analyticalCostModel();

/** Shapes of a GPT-ish layer (batch 8, sequence 1024, hidden 1024, 16 heads). */
const SHAPES: readonly (readonly number[])[] = [
  [8192, 1024],
  [1024, 4096],
  [8, 1024, 1024],
  [8, 16, 1024, 1024],
  [8, 1024, 3, 16, 64],
];

interface Query {
  readonly shape: readonly number[];
  readonly from: ShardingSpec;
  readonly to: ShardingSpec;
}


function queries(mesh: DeviceMesh, count: number, seed: number): Query[] {
  const rand = rng(seed);
  const specs = SHAPES.map((shape) => legalSpecs(shape, mesh));
  return Array.from({ length: count }, () => {
    const k = Math.floor(rand() * SHAPES.length);
    const list = specs[k] ?? [];
    const pick = (): ShardingSpec => list[Math.floor(rand() * list.length)] ?? { dims: [], partial: [] };
    return { shape: SHAPES[k] ?? [], from: pick(), to: pick() };
  });
}

/** Queries per second of `run` over `qs`, repeated until at least `minMs` have passed. */
function rate(qs: readonly Query[], run: (q: Query) => void, minMs = 300): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    for (const q of qs) run(q);
    n += qs.length;
    t = performance.now();
  } while (t - t0 < minMs);
  return (n / (t - t0)) * 1e3;
}

const fmt = (qps: number): string => (qps >= 1e6 ? `${(qps / 1e6).toFixed(2)} M/s` : qps >= 1e3 ? `${(qps / 1e3).toFixed(1)} k/s` : `${qps.toFixed(0)} /s`);

for (const shape of [[2, 8], [4, 4], [2, 2, 4]]) {
  const mesh = meshFromLogical(logicalMesh(cluster, shape));
  const qs = queries(mesh, 2000, 7);
  const specCounts = SHAPES.map((s) => legalSpecs(s, mesh).length).join('/');

  // Cold: every query on a fresh resharder, so it builds its graph, prices it and runs Dijkstra.
  const cold = rate(qs.slice(0, 50), (q) => void createResharder(mesh, cost).reshard(q.from, q.to, q.shape, 2), 500);

  // New tensor size: the graph is built but the moves are priced again, then one Dijkstra.
  const r = createResharder(mesh, cost);
  for (const q of qs) r.reshard(q.from, q.from, q.shape, 2);
  let size = 2;
  const newSize = rate(qs, (q) => void r.reshard(q.from, q.to, q.shape, (size += 2)), 500);

  // New source: graph built and priced; each query starts from a spec not asked from yet (one Dijkstra).
  const sources: Query[] = SHAPES.flatMap((shape) => {
    const list = legalSpecs(shape, mesh);
    const to = list[0] ?? { dims: [], partial: [] };
    return list.map((from) => ({ shape, from, to }));
  });
  const r1 = createResharder(mesh, cost);
  // Build and price each graph first (this also runs the replicated source: one of hundreds).
  for (const shape of SHAPES) {
    const replicatedSpec = { dims: shape.map(() => []), partial: [] };
    r1.reshard(replicatedSpec, replicatedSpec, shape, 2);
  }
  const t1 = performance.now();
  for (const q of sources) r1.reshard(q.from, q.to, q.shape, 2);
  const newSource = (sources.length / (performance.now() - t1)) * 1e3;

  // New target from a known source: the path read back from the tree and frozen.
  const r2 = createResharder(mesh, cost);
  for (const q of qs) r2.reshard(q.from, q.from, q.shape, 2);
  const t0 = performance.now();
  for (const q of qs) r2.reshard(q.from, q.to, q.shape, 2);
  const newTarget = (qs.length / (performance.now() - t0)) * 1e3;

  // Memoized: the same queries again, with the same spec objects (the planner's habit) and with fresh copies.
  const memo = rate(qs, (q) => void r2.reshard(q.from, q.to, q.shape, 2), 500);
  const copies = qs.map((q) => ({ shape: [...q.shape], from: structuredClone(q.from), to: structuredClone(q.to) }));
  const memoFresh = rate(copies, (q) => void r2.reshard({ dims: q.from.dims, partial: q.from.partial }, { dims: q.to.dims, partial: q.to.partial }, q.shape, 2), 500);

  const s = r2.stats();
  console.log(`${meshToString(mesh)}: legal specs per shape ${specCounts}; ${s.graphs} graphs for ${SHAPES.length} shapes`);
  console.log(`  cold (fresh resharder: graph, prices, Dijkstra)  ${fmt(cold)}`);
  console.log(`  new tensor size (prices, Dijkstra)              ${fmt(newSize)}`);
  console.log(`  new source (one Dijkstra)                       ${fmt(newSource)}`);
  console.log(`  new target (path read back)                     ${fmt(newTarget)}`);
  console.log(`  memoized, same spec objects                     ${fmt(memo)}`);
  console.log(`  memoized, fresh spec objects                    ${fmt(memoFresh)}`);
}
