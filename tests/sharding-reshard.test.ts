/**
 * Resharding: the cheapest sequence of collectives between two specs. Specific cases
 * against the cost model's own formulas, then every pair of legal specs of random small
 * tensors replayed through a symbolic applier written here from the step definitions
 * (not from src/sharding/steps.ts), and the triangle inequality of a shortest path.
 */
import { describe, expect, it } from 'vitest';
import { analyticalCostModel, type CostModel } from '../cost-models/cost-model.js';
import type { CollectiveKind } from '../cost-models/types.js';
import { parseCluster } from '../src/cluster/load.js';
import { logicalMesh } from '../src/cluster/mesh.js';
import { AutoparError } from '../src/errors.js';
import { legalSpecs } from '../src/sharding/enumerate.js';
import { meshFromLogical, type DeviceMesh } from '../src/sharding/mesh.js';
import { createResharder, reshard, type ReshardPlan, type ReshardStep } from '../src/sharding/reshard.js';
import { parseSpec, replicated, shardBytes, specEquals, specToString, type ShardingSpec } from '../src/sharding/spec.js';
import { shardingProblem } from '../src/sharding/verify.js';
import { rng } from '../src/solver/random-problem.js';

const cost = analyticalCostModel();
const oneHost = parseCluster('hosts: 1\ndevicesPerHost: 4\ndevice: A100-80GB\nintraHost: nvlink3\n', 'one-host.yaml');
const twoHosts = parseCluster('hosts: 2\ndevicesPerHost: 4\ndevice: A100-80GB\nintraHost: nvlink3\ninterHost: ib-hdr\n', 'two-hosts.yaml');
const mesh4 = meshFromLogical(logicalMesh(oneHost, [4]));
/** One host: both axes on NVLink, the same α-β. */
const mesh2x2 = meshFromLogical(logicalMesh(oneHost, [2, 2]));
/** Two hosts: x crosses the network (slow, its 4 groups share each host port), y stays on NVLink. */
const mesh2x4 = meshFromLogical(logicalMesh(twoHosts, [2, 4]));
const mesh2x2x2 = meshFromLogical(logicalMesh(twoHosts, [2, 2, 2]));

const spec = (text: string): ShardingSpec => parseSpec(text);
const time = (kind: CollectiveKind, bytes: number, mesh: DeviceMesh, axes: readonly string[]): number => cost.collective({ kind, bytes }, mesh.group(axes)).seconds;
const summary = (plan: ReshardPlan): string[] => plan.steps.map((s) => `${s.kind}(${s.axes.join(',')})`);

const SHAPE = [1024, 2048];
const BYTES = 1024 * 2048 * 4;

function expectReplays(plan: ReshardPlan, from: ShardingSpec, to: ShardingSpec, shape: readonly number[], dtypeBytes: number, mesh: DeviceMesh): void {
  expect(replay(plan, from, to, shape, dtypeBytes, mesh, cost)).toEqual([]);
}

describe('resharding: single collectives', () => {
  it('identity costs nothing, for every legal spec', () => {
    const shape = [8, 12];
    for (const s of legalSpecs(shape, mesh2x4)) {
      const plan = reshard(mesh2x4, cost, s, { dims: s.dims.map((d) => [...d]), partial: [...s.partial].reverse() }, shape, 2);
      expect(plan).toEqual({ steps: [], seconds: 0 });
    }
  });

  it.each([
    ['1-D', mesh4],
    ['2x2', mesh2x2],
  ])('partial -> replicated is one all-reduce of the full buffer (%s)', (_, mesh) => {
    const from = spec('[-, -]+x');
    const plan = reshard(mesh, cost, from, replicated(2), SHAPE, 4);
    expect(summary(plan)).toEqual(['all-reduce(x)']);
    expect(plan.steps[0]?.bytes).toBe(BYTES);
    expect(plan.seconds).toBe(time('all-reduce', BYTES, mesh, ['x']));
    expectReplays(plan, from, replicated(2), SHAPE, 4, mesh);
  });

  it('partial over a slow axis -> replicated: never dearer than the all-reduce, cheaper when a fast axis can shrink it first', () => {
    const from = spec('[-, -]+x');
    const plan = reshard(mesh2x4, cost, from, replicated(2), SHAPE, 4);
    const allReduce = time('all-reduce', BYTES, mesh2x4, ['x']);
    expect(plan.seconds).toBeLessThan(allReduce);
    // Slice over y (free), reduce-scatter the quarter over x, all-gather over both: the slow link carries a quarter.
    expect(summary(plan)).toContain('reduce-scatter(x)');
    expectReplays(plan, from, replicated(2), SHAPE, 4, mesh2x4);
  });

  it.each([
    ['1-D', mesh4],
    ['2x2', mesh2x2],
  ])('partial -> split is one reduce-scatter, cheaper than all-reduce then slice (%s)', (_, mesh) => {
    const from = spec('[-, -]+x');
    const to = spec('[x, -]');
    const plan = reshard(mesh, cost, from, to, SHAPE, 4);
    expect(summary(plan)).toEqual(['reduce-scatter(x)']);
    expect(plan.steps[0]).toMatchObject({ dim: 0, bytes: BYTES });
    expect(plan.seconds).toBe(time('reduce-scatter', BYTES, mesh, ['x']));
    expect(plan.seconds).toBeLessThan(time('all-reduce', BYTES, mesh, ['x']));
    expectReplays(plan, from, to, SHAPE, 4, mesh);
  });

  it.each([
    ['1-D', mesh4],
    ['2x2', mesh2x2],
  ])('split -> replicated is one all-gather whose bytes are its output (%s)', (_, mesh) => {
    const from = spec('[-, x]');
    const plan = reshard(mesh, cost, from, replicated(2), SHAPE, 4);
    expect(summary(plan)).toEqual(['all-gather(x)']);
    expect(plan.steps[0]).toMatchObject({ dim: 1, bytes: BYTES });
    expect(plan.seconds).toBe(time('all-gather', BYTES, mesh, ['x']));
  });

  it.each([
    ['1-D', mesh4],
    ['2x2', mesh2x2],
  ])('split on dim 0 -> split on dim 1 over the same axis is one all-to-all of what each rank holds (%s)', (_, mesh) => {
    const from = spec('[x, -]');
    const to = spec('[-, x]');
    const plan = reshard(mesh, cost, from, to, SHAPE, 4);
    const local = shardBytes(SHAPE, 4, from, mesh);
    expect(summary(plan)).toEqual(['all-to-all(x)']);
    expect(plan.steps[0]).toMatchObject({ dim: 0, toDim: 1, bytes: local });
    expect(plan.seconds).toBe(time('all-to-all', local, mesh, ['x']));
    expectReplays(plan, from, to, SHAPE, 4, mesh);
  });
});

describe('resharding a scalar', () => {
  it('partial -> replicated is one all-reduce of the element; replicated -> partial is free', () => {
    const plan = reshard(mesh2x4, cost, spec('[]+x+y'), replicated(0), [], 4);
    expect(plan.steps.every((s) => s.kind === 'all-reduce')).toBe(true);
    expect(plan.seconds).toBeLessThanOrEqual(time('all-reduce', 4, mesh2x4, ['x', 'y']) * (1 + 1e-12));
    expect(reshard(mesh2x4, cost, replicated(0), spec('[]+y'), [], 4)).toMatchObject({ seconds: 0, steps: [{ kind: 'local-partial', axes: ['y'], bytes: 0 }] });
  });
});

describe('resharding over two axes', () => {
  it('split over a slow axis -> replicated: never dearer than its all-gather, cheaper when a fast axis slices it first', () => {
    const from = spec('[-, x]');
    const plan = reshard(mesh2x4, cost, from, replicated(2), SHAPE, 4);
    // Slice over y (free), so the slow x link gathers a quarter; then gather over both.
    expect(plan.seconds).toBeLessThan(time('all-gather', BYTES, mesh2x4, ['x']));
    expectReplays(plan, from, replicated(2), SHAPE, 4, mesh2x4);
  });

  it('[x*y, -] -> replicated, one axis per collective: gather y (minor) first, then x, each with its output bytes', () => {
    const from = spec('[x*y, -]');
    const plan = createResharder(mesh2x2, cost, { multiAxisCollectives: false }).reshard(from, replicated(2), SHAPE, 4);
    expect(summary(plan)).toEqual(['all-gather(y)', 'all-gather(x)']);
    expect(plan.steps.map((s) => s.bytes)).toEqual([BYTES / 2, BYTES]);
    expect(plan.steps.map((s) => specToString(s.spec))).toEqual(['[x, -]', '[-, -]']);
    expect(plan.seconds).toBeCloseTo(time('all-gather', BYTES / 2, mesh2x2, ['y']) + time('all-gather', BYTES, mesh2x2, ['x']), 15);
    expectReplays(plan, from, replicated(2), SHAPE, 4, mesh2x2);
  });

  it('[x*y, -] -> replicated with multi-axis collectives: no dearer than either the pair of gathers or one gather over both', () => {
    for (const mesh of [mesh2x2, mesh2x4]) {
      const from = spec('[x*y, -]');
      const plan = reshard(mesh, cost, from, replicated(2), SHAPE, 4);
      const pair = time('all-gather', BYTES / 2, mesh, ['y']) + time('all-gather', BYTES, mesh, ['x']);
      const both = time('all-gather', BYTES, mesh, ['x', 'y']);
      expect(plan.seconds).toBeLessThanOrEqual(Math.min(pair, both) * (1 + 1e-12));
      expect(plan.steps.every((s) => s.kind === 'all-gather')).toBe(true);
      expectReplays(plan, from, replicated(2), SHAPE, 4, mesh);
    }
  });

  it('[x*y, -] -> [x, -] gathers only the minor axis: one all-gather over y, output a half of the tensor', () => {
    const plan = reshard(mesh2x4, cost, spec('[x*y, -]'), spec('[x, -]'), SHAPE, 4);
    expect(summary(plan)).toEqual(['all-gather(y)']);
    expect(plan.steps[0]?.bytes).toBe(BYTES / 2);
    expect(plan.seconds).toBe(time('all-gather', BYTES / 2, mesh2x4, ['y']));
  });

  it('changing major/minor order of one dimension is a permute: each device sends its block once', () => {
    const shape = [4096];
    const from = spec('[x*y]');
    const to = spec('[y*x]');
    const plan = reshard(mesh2x2, cost, from, to, shape, 4);
    const local = shardBytes(shape, 4, from, mesh2x2);
    expect(summary(plan)).toEqual(['permute(x,y)']);
    expect(plan.seconds).toBe(time('send', local, mesh2x2, ['x', 'y']));
    expectReplays(plan, from, to, shape, 4, mesh2x2);
  });

  it('a split moved from the cross-host axis to the in-host one pays for the blocks that cross each host port', () => {
    // 8 hosts of 8 V100 (Alpa's testbed). [x, -]: host i holds row block i on all its
    // devices; [y, -]: device (i, j) holds block j, which only host j has. So 7 of each
    // host's 8 devices receive a block of T/8 through the host's one port: no plan can
    // take less than 7/8 · T / bandwidth.
    const text = 'hosts: 8\ndevicesPerHost: 8\ndevice: V100-16GB\nintraHost: nvlink2\ninterHost: {bandwidth: 25Gb/s, latency: 25us}\n';
    const alpa = parseCluster(text, 'alpa-8x8.yaml');
    const mesh = meshFromLogical(logicalMesh(alpa, [8, 8]));
    const shape = [2048, 2048];
    const bytes = 2048 * 2048 * 4;
    const bandwidth = alpa.interHost?.bandwidth ?? 0;
    const plan = reshard(mesh, cost, spec('[x, -]'), spec('[y, -]'), shape, 4);
    expect(plan.seconds).toBeGreaterThanOrEqual(((7 / 8) * bytes) / bandwidth);
    expectReplays(plan, spec('[x, -]'), spec('[y, -]'), shape, 4, mesh);
  });

  it('without multi-axis collectives, no collective spans two axes (except a permute)', () => {
    const r = createResharder(mesh2x4, cost, { multiAxisCollectives: false });
    const shape = [8, 8];
    const specs = legalSpecs(shape, mesh2x4);
    for (const a of specs) {
      for (const b of specs) {
        const plan = r.reshard(a, b, shape, 4);
        expect(plan.steps.filter((s) => s.kind !== 'permute' && s.axes.length > 1)).toEqual([]);
      }
    }
  });
});

describe('resharding: caches and errors', () => {
  it('a repeated query returns the same plan; shapes that divide alike share one graph', () => {
    const r = createResharder(mesh2x4, cost);
    const a = r.reshard(spec('[x, y]'), spec('[y, -]+x'), [8, 12], 4);
    expect(r.reshard(parseSpec('[x, y]'), parseSpec('[y, -]+x'), [8, 12], 4)).toBe(a);
    const b = r.reshard(spec('[x, y]'), spec('[y, -]+x'), [16, 12], 4);
    expect(r.stats().graphs).toBe(1);
    expect(summary(b)).toEqual(summary(a));
    expect(b.steps.map((s) => s.bytes)).toEqual(a.steps.map((s) => 2 * s.bytes));
    r.reshard(spec('[x, y]'), spec('[y, -]+x'), [8, 8], 4); // 8 splits 8 ways, 12 does not: another pattern
    expect(r.stats().graphs).toBe(2);
    r.clear();
    expect(r.stats()).toEqual({ graphs: 0, trees: 0, plans: 0 });
  });

  it('secondsMatrix equals seconds pair by pair (fresh caches each way), 0 where there is no target', () => {
    const shape = [8, 12];
    const specs = legalSpecs(shape, mesh2x4);
    // Sources repeat (strategies share output specs); targets include "no requirement".
    const from = [...specs, ...specs.slice(0, 5)];
    const to = [...specs.slice(3), undefined];
    const m = createResharder(mesh2x4, cost).secondsMatrix(from, to, shape, 4);
    const r = createResharder(mesh2x4, cost);
    expect(m.length).toBe(from.length);
    from.forEach((f, i) => to.forEach((t, j) => expect(m[i]?.[j], `${specToString(f)} -> ${t ? specToString(t) : 'none'}`).toBe(t ? r.seconds(f, t, shape, 4) : 0)));
    expect(() => createResharder(mesh2x4, cost).secondsMatrix([spec('[y, -]')], [replicated(2)], [6, 8], 4)).toThrow(/source sharding \[y, -\]/);
  });

  it('an illegal spec is an internal error naming the shape and the spec', () => {
    const r = createResharder(mesh2x4, cost);
    const bad = (f: () => unknown): AutoparError => {
      try {
        f();
      } catch (e) {
        if (e instanceof AutoparError) return e;
        throw e;
      }
      throw new Error('expected an AutoparError');
    };
    const e = bad(() => r.reshard(spec('[y, -]'), replicated(2), [6, 8], 4));
    expect(e.code).toBe('E_INTERNAL');
    expect(e.message).toMatch(/shape \[6, 8\].*source sharding \[y, -\] on mesh\(x=2, y=4\).*does not divide/);
    expect(bad(() => r.reshard(replicated(2), spec('[x, x]'), [8, 8], 4)).message).toMatch(/target sharding \[x, x\].*used twice/);
    expect(bad(() => r.reshard(replicated(2), replicated(3), [8, 8], 4)).message).toMatch(/rank 2/);
    expect(bad(() => r.reshard(replicated(1), replicated(1), [8.5], 4)).message).toMatch(/concrete shape/);
    expect(bad(() => r.reshard(replicated(1), replicated(1), [8], 0)).message).toMatch(/positive element size/);
  });
});


/**
 * The path every resharder can take (Alpa's fallback, minus its infinities): all-reduce
 * each partial axis, all-gather each dimension minor axis first, then slice and mark
 * partial for free. Its cost bounds the optimum from above.
 */
function naive(from: ShardingSpec, shape: readonly number[], dtypeBytes: number, mesh: DeviceMesh): number {
  let seconds = 0;
  let spec: ShardingSpec = from;
  for (const axis of from.partial) {
    seconds += time('all-reduce', shardBytes(shape, dtypeBytes, spec, mesh), mesh, [axis]);
    spec = { dims: spec.dims, partial: spec.partial.filter((a) => a !== axis) };
  }
  for (const [d, axes] of from.dims.entries()) {
    for (let i = axes.length - 1; i >= 0; i--) {
      spec = { dims: spec.dims.map((list, j) => (j === d ? list.slice(0, i) : list)), partial: [] };
      seconds += time('all-gather', shardBytes(shape, dtypeBytes, spec, mesh), mesh, [axes[i] ?? '']);
    }
  }
  return seconds;
}

describe('resharding: every pair of legal specs', () => {
  const meshes: [string, DeviceMesh, number][] = [
    ['2x2', mesh2x2, 1],
    ['2x4', mesh2x4, 2],
    ['2x2x2', mesh2x2x2, 3],
  ];
  it.each(meshes)('%s: finite, no dearer than the naive path, and the steps replayed symbolically turn from into to', (_, mesh, seed) => {
    const rand = rng(seed);
    const sizes = [1, 2, 3, 4, 6, 8, 12, 16];
    let pairs = 0;
    for (let t = 0; t < 3; t++) {
      const rank = mesh.axes.length === 3 ? 2 : 1 + Math.floor(rand() * 3);
      // Dimension 0 is divisible by the whole mesh, so every layout appears at least there.
      const shape = Array.from({ length: rank }, (_, d) => (d === 0 ? 8 * (1 + Math.floor(rand() * 2)) : (sizes[Math.floor(rand() * sizes.length)] ?? 1)));
      const dtypeBytes = rand() < 0.5 ? 2 : 4;
      const r = createResharder(mesh, cost);
      const specs = legalSpecs(shape, mesh);
      for (const from of specs) {
        for (const to of specs) {
          const plan = r.reshard(from, to, shape, dtypeBytes);
          expect(Number.isFinite(plan.seconds), `${specToString(from)} -> ${specToString(to)}`).toBe(true);
          const problems = replay(plan, from, to, shape, dtypeBytes, mesh, cost);
          if (problems.length > 0) expect.fail(`[${shape}] ${specToString(from)} -> ${specToString(to)}: ${problems.join('; ')}`);
          const baseline = naive(from, shape, dtypeBytes, mesh);
          if (plan.seconds > baseline * (1 + 1e-12)) expect.fail(`${specToString(from)} -> ${specToString(to)} costs ${plan.seconds}, the naive path ${baseline}`);
          pairs++;
        }
      }
    }
    expect(pairs).toBeGreaterThan(100);
  });

  it.each(meshes)('%s: triangle inequality on random triples', (_, mesh, seed) => {
    const rand = rng(100 + seed);
    const shape = [16, 8, 6].slice(0, mesh.axes.length === 3 ? 2 : 3);
    const specs = legalSpecs(shape, mesh);
    const r = createResharder(mesh, cost);
    const pick = (): ShardingSpec => specs[Math.floor(rand() * specs.length)] ?? replicated(shape.length);
    for (let i = 0; i < 3000; i++) {
      const [a, b, c] = [pick(), pick(), pick()];
      const ac = r.seconds(a, c, shape, 4);
      if (i < 200) expect(ac).toBe(r.reshard(a, c, shape, 4).seconds);
      const via = r.seconds(a, b, shape, 4) + r.seconds(b, c, shape, 4);
      if (ac > via * (1 + 1e-12)) expect.fail(`${specToString(a)} -> ${specToString(c)} costs ${ac}, via ${specToString(b)} ${via}`);
    }
  });
});

// ---- symbolic applier ----

function endsWith(list: readonly string[], suffix: readonly string[]): boolean {
  return suffix.length > 0 && suffix.length <= list.length && suffix.every((a, i) => list[list.length - suffix.length + i] === a);
}

function dimsWith(spec: ShardingSpec, d: number, axes: readonly string[]): (readonly string[])[] {
  if (d < 0 || d >= spec.dims.length) throw new Error(`dimension ${d} out of range for ${specToString(spec)}`);
  return spec.dims.map((list, i) => (i === d ? axes : list));
}

/** The spec after `step`, or an Error saying why the step cannot apply. */
export function applyStep(spec: ShardingSpec, step: ReshardStep, mesh: DeviceMesh): ShardingSpec {
  const used = new Set([...spec.dims.flat(), ...spec.partial]);
  const allPartial = step.axes.every((a) => spec.partial.includes(a));
  const notPartial = spec.partial.filter((a) => !step.axes.includes(a));
  const dim = spec.dims[step.dim] ?? [];
  switch (step.kind) {
    case 'all-reduce':
      if (!allPartial) throw new Error(`all-reduce over ${step.axes} but ${specToString(spec)} is not partial over them`);
      return { dims: spec.dims, partial: notPartial };
    case 'reduce-scatter':
      if (!allPartial) throw new Error(`reduce-scatter over ${step.axes} but ${specToString(spec)} is not partial over them`);
      return { dims: dimsWith(spec, step.dim, [...dim, ...step.axes]), partial: notPartial };
    case 'all-gather':
      if (!endsWith(dim, step.axes)) throw new Error(`all-gather of ${step.axes} from dimension ${step.dim} of ${specToString(spec)}: not its minor axes`);
      return { dims: dimsWith(spec, step.dim, dim.slice(0, dim.length - step.axes.length)), partial: spec.partial };
    case 'all-to-all': {
      if (!endsWith(dim, step.axes)) throw new Error(`all-to-all of ${step.axes} from dimension ${step.dim} of ${specToString(spec)}: not its minor axes`);
      if (step.toDim === step.dim) throw new Error('all-to-all onto the same dimension');
      const shrunk: ShardingSpec = { dims: dimsWith(spec, step.dim, dim.slice(0, dim.length - step.axes.length)), partial: spec.partial };
      return { dims: dimsWith(shrunk, step.toDim, [...(spec.dims[step.toDim] ?? []), ...step.axes]), partial: spec.partial };
    }
    case 'local-slice':
      if (step.axes.some((a) => used.has(a))) throw new Error(`local slice over ${step.axes}, but ${specToString(spec)} is not replicated over them`);
      return { dims: dimsWith(spec, step.dim, [...dim, ...step.axes]), partial: spec.partial };
    case 'local-partial':
      if (step.dim >= 0) {
        if (!endsWith(dim, step.axes)) throw new Error(`local partial of ${step.axes} from dimension ${step.dim} of ${specToString(spec)}: not its minor axes`);
        return { dims: dimsWith(spec, step.dim, dim.slice(0, dim.length - step.axes.length)), partial: [...spec.partial, ...step.axes] };
      }
      if (step.axes.some((a) => used.has(a))) throw new Error(`local partial over ${step.axes}, but ${specToString(spec)} is not replicated over them`);
      return { dims: spec.dims, partial: [...spec.partial, ...step.axes] };
    case 'permute': {
      // A permute moves whole blocks: same split count per dimension, same partial axes.
      const count = (s: ShardingSpec, d: number): number => (s.dims[d] ?? []).reduce((p, a) => p * (mesh.axes.find((x) => x.name === a)?.size ?? NaN), 1);
      const to = step.spec;
      if (to.dims.length !== spec.dims.length || spec.dims.some((_, d) => count(spec, d) !== count(to, d))) throw new Error(`permute from ${specToString(spec)} to ${specToString(to)} changes the block shape`);
      if (!specEquals({ dims: [], partial: spec.partial }, { dims: [], partial: to.partial })) throw new Error(`permute changes the partial axes`);
      return to;
    }
    default: {
      const never: never = step.kind;
      return never;
    }
  }
}

/** The cost-model collective and the bytes it should report for a step from `before` to `after` (nccl-tests convention). */
export function expectedCollective(step: ReshardStep, before: number, after: number): { kind: CollectiveKind; bytes: number } | undefined {
  switch (step.kind) {
    case 'all-reduce':
    case 'reduce-scatter':
      return { kind: step.kind, bytes: before };
    case 'all-gather':
      return { kind: 'all-gather', bytes: after };
    case 'all-to-all':
      return { kind: 'all-to-all', bytes: before };
    case 'permute':
      return { kind: 'send', bytes: before };
    case 'local-slice':
    case 'local-partial':
      return undefined;
    default: {
      const never: never = step.kind;
      return never;
    }
  }
}

/**
 * Replays `plan` from `from`: every step applies, every intermediate is legal, each
 * step's bytes and seconds are what the convention and the cost model say, the seconds
 * add up, and the last spec is `to`. Returns a list of problems (empty when all is well).
 */
export function replay(plan: ReshardPlan, from: ShardingSpec, to: ShardingSpec, shape: readonly number[], dtypeBytes: number, mesh: DeviceMesh, cost: CostModel): string[] {
  const problems: string[] = [];
  let spec = from;
  let total = 0;
  for (const [i, step] of plan.steps.entries()) {
    let next: ShardingSpec;
    try {
      next = applyStep(spec, step, mesh);
    } catch (e) {
      problems.push(`step ${i} (${step.kind}): ${e instanceof Error ? e.message : String(e)}`);
      return problems;
    }
    if (!specEquals(next, step.spec)) problems.push(`step ${i} (${step.kind}) says it gives ${specToString(step.spec)}, applying it gives ${specToString(next)}`);
    const illegal = shardingProblem(shape, next, mesh);
    if (illegal) {
      problems.push(`step ${i} gives illegal ${specToString(next)}: ${illegal}`);
      return problems;
    }
    const c = expectedCollective(step, shardBytes(shape, dtypeBytes, spec, mesh), shardBytes(shape, dtypeBytes, next, mesh));
    const bytes = c?.bytes ?? 0;
    const seconds = c ? cost.collective(c, mesh.group(step.axes)).seconds : 0;
    if (step.bytes !== bytes) problems.push(`step ${i} (${step.kind}) reports ${step.bytes} bytes, expected ${bytes}`);
    if (Math.abs(step.seconds - seconds) > 1e-12 * Math.max(1e-9, seconds)) problems.push(`step ${i} (${step.kind}) costs ${step.seconds} s, the cost model says ${seconds}`);
    if (!(step.seconds >= 0 && Number.isFinite(step.seconds))) problems.push(`step ${i} costs ${step.seconds}`);
    total += step.seconds;
    spec = next;
  }
  if (!specEquals(spec, to)) problems.push(`the steps end at ${specToString(spec)}, not ${specToString(to)}`);
  if (Math.abs(total - plan.seconds) > 1e-9 * Math.max(1e-12, total)) problems.push(`steps add up to ${total} s, the plan says ${plan.seconds}`);
  return problems;
}
