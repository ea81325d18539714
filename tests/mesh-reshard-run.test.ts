/**
 * Resharding as device programs, run for real: for random pairs of legal layouts of a
 * tensor on a 2x2 mesh (partial sums included), the resharder's cheapest steps are
 * lowered (emit/lower/reshard-steps.ts) and run on four worker threads; every device
 * must end with exactly its block of the target layout (or, for a partial target, blocks
 * that sum to the tensor). The mesh is laid over the devices both in order and shuffled,
 * so the library's member order (sorted ids) differs from the block order and the
 * chunk permutations around the collectives are exercised.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { ProgramBuilder } from '../src/emit/builder.js';
import type { MeshProgram } from '../src/emit/lower/lower-mesh.js';
import { lowerStep, type StepContext } from '../src/emit/lower/reshard-steps.js';
import { assertVerified } from '../src/emit/verify.js';
import { type HostTensor, hostTensor } from '../src/ir/host-tensor.js';
import { runThreads } from '../src/runtime/collectives/threads/launcher.js';
import type { MeshWorkerArgs, MeshWorkerResult } from '../src/runtime/spmd/mesh-worker.js';
import { fromWireTensor, toWireTensor } from '../src/runtime/spmd/wire.js';
import { legalSpecs } from '../src/sharding/enumerate.js';
import { assemble, meshCoords, shardOf } from '../src/sharding/host-shard.js';
import { deviceMesh } from '../src/sharding/mesh.js';
import { createResharder } from '../src/sharding/reshard.js';
import { parseSpec, shardShape, specToString, type ShardingSpec } from '../src/sharding/spec.js';
import { Rng } from './helpers/random.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORKER = path.join(ROOT, 'dist', 'src', 'runtime', 'spmd', 'mesh-worker.js');
const SHAPE = [4, 6];
const mesh = deviceMesh([
  { name: 'x', size: 2, alpha: 1e-5, beta: 1e-9 },
  { name: 'y', size: 2, alpha: 2e-5, beta: 4e-9 },
]);

function programsFor(devices: readonly number[], cases: readonly { from: ShardingSpec; to: ShardingSpec }[]): { programs: MeshProgram[]; kinds: Set<string> } {
  const resharder = createResharder(mesh, analyticalCostModel());
  const kinds = new Set<string>();
  const info = { shape: [2, 2], axes: ['x', 'y'], devices: [...devices] };
  const byId = [...devices.keys()].sort((a, b) => (devices[a] ?? 0) - (devices[b] ?? 0));
  const programs = byId.map((pos) => {
    const b = new ProgramBuilder(devices[pos] ?? 0, 0, info);
    let fresh = 0;
    let tags = 0;
    const ctx: StepContext = {
      builder: b,
      mesh,
      devices,
      pos,
      coords: meshCoords(mesh, pos),
      freshName: (base) => `${base}~${++fresh}`,
      declare: (name, value, spec, dtype, shape) => {
        b.tensor(name, shape ?? shardShape(SHAPE, spec, mesh), { dtype: dtype ?? 'float32', source: value, sharding: specToString(spec) });
        return name;
      },
      nextTag: () => tags++,
    };
    cases.forEach(({ from, to }, i) => {
      const v = `v${i}`;
      ctx.declare(v, v, from);
      b.input(v, v);
      let t = v;
      let spec = from;
      for (const st of resharder.reshard(from, to, SHAPE, 4).steps) {
        kinds.add(st.kind);
        t = lowerStep(ctx, st, t, spec, v, `case${i}`, SHAPE);
        spec = st.spec;
      }
      b.output(t);
    });
    return { ...b.build(), carry: [] };
  });
  return { programs, kinds };
}

describe('resharding steps as device programs', () => {
  const rng = new Rng(7);
  const specs = legalSpecs(SHAPE, mesh);
  // Random pairs, and block exchanges (same block shape, axes swapped) that need a permute.
  const cases = [
    ...Array.from({ length: 40 }, () => ({ from: rng.pick(specs), to: rng.pick(specs.filter((s) => s.partial.length === 0 || rng.next() < 0.3)) })),
    { from: parseSpec('[x*y, -]'), to: parseSpec('[y*x, -]') },
    { from: parseSpec('[x, y]'), to: parseSpec('[y, x]') },
    { from: parseSpec('[x, -]+y'), to: parseSpec('[y, -]+x') },
  ];
  const values: HostTensor[] = cases.map(() => hostTensor('float32', SHAPE, Array.from({ length: 24 }, () => rng.int(-50, 50))));

  for (const devices of [
    [0, 1, 2, 3],
    [2, 0, 3, 1],
  ]) {
    it(`43 layout pairs on a 2x2 mesh over devices [${devices.join(',')}]: every device ends with its block`, async () => {
      const { programs, kinds } = programsFor(devices, cases);
      assertVerified({ schedule: { kind: 'none', stages: 1, microbatches: 1 }, programs });
      // The random pairs cover the collectives and the local steps.
      for (const k of ['all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all', 'local-slice', 'local-partial', 'permute']) expect(kinds, k).toContain(k);
      const args: MeshWorkerArgs = { dir: '', steps: 1, feeds: values.map((t, i) => [`v${i}`, toWireTensor(t)] as const), programs };
      const run = await runThreads({ workers: 4, module: WORKER, args: () => args });
      const results = run.results as MeshWorkerResult[];
      cases.forEach(({ from, to }, i) => {
        const label = `${specToString(from)} -> ${specToString(to)}`;
        const blocks = devices.map((d) => fromWireTensor(results.find((r) => r.device === d)?.steps[0]?.[i] ?? toWireTensor(hostTensor('float32', [0], []))));
        const value = values[i] as HostTensor;
        expect(Array.from(assemble(blocks, SHAPE, to, mesh).data), label).toEqual(Array.from(value.data));
        if (to.partial.length === 0) blocks.forEach((blk, pos) => expect(Array.from(blk.data), `${label} at ${pos}`).toEqual(Array.from(shardOf(value, to, mesh, meshCoords(mesh, pos)).data)));
      });
    });
  }
});
