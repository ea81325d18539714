/** Sharding specs: meshes, local shapes, the written form, the verifier, and the list of legal specs. */
import { describe, expect, it } from 'vitest';
import { parseCluster } from '../src/cluster/load.js';
import { commGroup, logicalMesh } from '../src/cluster/mesh.js';
import { AutoparError } from '../src/errors.js';
import { deviceMesh, meshFromLogical, type MeshShape } from '../src/sharding/mesh.js';
import { parseSpec, replicated, shardBytes, shardShape, specEquals, specKey, specToString, type ShardingSpec } from '../src/sharding/spec.js';
import { isLegalSharding, shardingProblem, verifySharding } from '../src/sharding/verify.js';
import { legalSpecs } from '../src/sharding/enumerate.js';

const link = { alpha: 5e-6, beta: 1 / 300e9 };
const mesh2x4 = deviceMesh([
  { name: 'x', size: 2, ...link },
  { name: 'y', size: 4, ...link },
]);
const spec = (text: string): ShardingSpec => parseSpec(text);

function thrown(f: () => void): AutoparError {
  try {
    f();
  } catch (e) {
    if (e instanceof AutoparError) return e;
    throw e;
  }
  throw new Error('expected an AutoparError');
}

describe('meshes', () => {
  it('from a cluster logical mesh: axes, sizes, and the cluster’s groups', () => {
    const cluster = parseCluster('hosts: 2\ndevicesPerHost: 4\ndevice: A100-80GB\nintraHost: nvlink3\ninterHost: ib-hdr\n', 'c.yaml');
    const logical = logicalMesh(cluster, [2, 4]);
    const mesh = meshFromLogical(logical);
    expect(mesh.axes).toEqual([
      { name: 'x', size: 2 },
      { name: 'y', size: 4 },
    ]);
    expect(mesh.group(['x', 'y'])).toEqual(commGroup(logical, ['x', 'y']));
    expect(mesh.group(['y'])).toEqual(commGroup(logical, ['y']));
  });

  it('given links: a flat group has the slowest α and β of its axes', () => {
    const m = deviceMesh([
      { name: 'a', size: 2, alpha: 1e-5, beta: 4e-11 },
      { name: 'b', size: 3, alpha: 2e-6, beta: 1e-10, alltoallBeta: 3e-10 },
    ]);
    const g = m.group(['b', 'a']);
    expect(g.flat).toEqual({ size: 6, alpha: 1e-5, beta: 1e-10, alltoallBeta: 3e-10 });
    expect(g.axes.map((a) => a.size)).toEqual([3, 2]);
    expect(m.group(['a']).flat.alltoallBeta).toBe(4e-11);
  });

  it('rejects duplicate names, bad names and bad sizes', () => {
    expect(() => deviceMesh([{ name: 'x', size: 2, ...link }, { name: 'x', size: 2, ...link }])).toThrow(/twice/);
    expect(() => deviceMesh([{ name: 'x y', size: 2, ...link }])).toThrow(/identifier/);
    expect(() => deviceMesh([{ name: 'x', size: 0, ...link }])).toThrow(/positive integer/);
    expect(() => mesh2x4.group(['q'])).toThrow(/no axis 'q'/);
  });
});

describe('specs', () => {
  it('shardShape and shardBytes divide each dimension by the sizes of its axes', () => {
    expect(shardShape([8, 6], spec('[x*y, -]'), mesh2x4)).toEqual([1, 6]);
    expect(shardShape([8, 6], spec('[-, -]'), mesh2x4)).toEqual([8, 6]);
    expect(shardShape([8, 6], spec('[y, -]+x'), mesh2x4)).toEqual([2, 6]);
    expect(shardShape([8, 6], spec('[-, x]'), mesh2x4)).toEqual([8, 3]);
    expect(shardShape([4, 16, 2], spec('[-, y*x, -]'), mesh2x4)).toEqual([4, 2, 2]);
    expect(shardShape([], spec('[]+x+y'), mesh2x4)).toEqual([]);
    expect(shardBytes([8, 6], 2, spec('[y, x]'), mesh2x4)).toBe(2 * 3 * 2);
    expect(shardBytes([8, 6], 4, replicated(2), mesh2x4)).toBe(8 * 6 * 4);
    expect(() => shardShape([6, 6], spec('[y, -]'), mesh2x4)).toThrow(/uneven/);
  });

  it('written form round-trips; equality ignores the order of partial axes', () => {
    for (const text of ['[x*y, -]+z', '[-, -]', '[]', '[]+x', '[y, x]', '[-, y*x, -]+q+r']) {
      expect(specToString(parseSpec(text))).toBe(text);
    }
    expect(parseSpec(' [ x * y , - ] + z ')).toEqual({ dims: [['x', 'y'], []], partial: ['z'] });
    expect(replicated(3)).toEqual(parseSpec('[-, -, -]'));
    expect(specEquals(spec('[x, -]+y+z'), spec('[x, -]+z+y'))).toBe(true);
    expect(specKey(spec('[x, -]+y+z'))).toBe(specKey(spec('[x, -]+z+y')));
    expect(specEquals(spec('[x*y, -]'), spec('[y*x, -]'))).toBe(false);
    expect(specEquals(spec('[x, -]'), spec('[-, x]'))).toBe(false);
    expect(specEquals(spec('[x, -]'), spec('[x, -]+y'))).toBe(false);
    expect(specEquals(spec('[x]'), spec('[x, -]'))).toBe(false);
    expect(specEquals({ dims: [], partial: ['x', 'x'] }, { dims: [], partial: ['x', 'y'] })).toBe(false);
    expect(specKey({ dims: [['x*y']], partial: [] })).not.toBe(specKey(spec('[x*y]')));
    expect(() => parseSpec('x, -')).toThrow(/cannot read sharding/);
    expect(() => parseSpec('[x-y]')).toThrow(/not an axis name/);
  });
});

describe('verifier', () => {
  const shape = [8, 6];
  const cases: [string, ShardingSpec, RegExp][] = [
    ['rank mismatch', spec('[x]'), /2 dimension|has 1 dimension\(s\) but the value has rank 2/],
    ['unknown axis in a dimension', spec('[z, -]'), /axis 'z' \(dimension 0\) is not an axis of the mesh \(axes: x, y\)/],
    ['unknown partial axis', spec('[-, -]+w'), /axis 'w' \(partial\) is not an axis/],
    ['axis twice in one dimension', spec('[x*x, -]'), /axis 'x' is used twice \(dimension 0 and dimension 0\)/],
    ['axis in two dimensions', spec('[x, x]'), /axis 'x' is used twice \(dimension 0 and dimension 1\)/],
    ['axis split and partial', spec('[y, -]+y'), /axis 'y' is used twice \(dimension 0 and partial\)/],
    ['axis partial twice', spec('[-, -]+x+x'), /axis 'x' is used twice \(partial and partial\)/],
    ['uneven split', spec('[-, y]'), /dimension 1 \(size 6\) is split 4 ways by y, which does not divide it; uneven splits are rejected/],
    ['uneven split over two axes', spec('[-, x*y]'), /split 8 ways by x\*y/],
  ];
  it.each(cases)('%s', (_, s, message) => {
    expect(shardingProblem(shape, s, mesh2x4)).toMatch(message);
    expect(isLegalSharding(shape, s, mesh2x4)).toBe(false);
    const e = thrown(() => verifySharding(shape, s, mesh2x4, { value: 'h.1', code: 'E_USAGE' }));
    expect(e.code).toBe('E_USAGE');
    // The message names the value, its shape, the spec and the mesh.
    expect(e.message).toContain(`'h.1' (shape [8, 6]) as ${specToString(s)} on mesh(x=2, y=4)`);
    expect(e.message).toMatch(message);
    expect(thrown(() => verifySharding(shape, s, mesh2x4, { value: 'w', code: 'E_INTERNAL' })).code).toBe('E_INTERNAL');
  });

  it('accepts legal specs, including size-0 dimensions and scalars', () => {
    for (const s of ['[x*y, -]', '[-, x]+y', '[y*x, -]', '[-, -]+x+y', '[-, -]']) {
      expect(() => verifySharding(shape, spec(s), mesh2x4, { value: 'v', code: 'E_INTERNAL' })).not.toThrow();
    }
    expect(shardingProblem([0, 6], spec('[x*y, -]'), mesh2x4)).toBeUndefined();
    expect(shardingProblem([], spec('[]+x'), mesh2x4)).toBeUndefined();
    expect(shardingProblem([2.5, 6], replicated(2), mesh2x4)).toMatch(/concrete non-negative shape/);
  });
});

describe('legal specs', () => {
  /** Independent brute force: every ordered axis list per dimension, every partial subset, kept if the verifier agrees. */
  function bruteForce(shape: readonly number[], mesh: MeshShape): string[] {
    const names = mesh.axes.map((a) => a.name);
    const lists: string[][] = [[]];
    for (let len = 1; len <= names.length; len++) {
      const grow = (prefix: string[]): void => {
        if (prefix.length === len) lists.push(prefix);
        else for (const n of names) if (!prefix.includes(n)) grow([...prefix, n]);
      };
      grow([]);
    }
    const partials = Array.from({ length: 1 << names.length }, (_, m) => names.filter((__, i) => m & (1 << i)));
    let dimsChoices: string[][][] = [[]];
    for (let d = 0; d < shape.length; d++) dimsChoices = dimsChoices.flatMap((prefix) => lists.map((l) => [...prefix, l]));
    const out: string[] = [];
    for (const dims of dimsChoices) for (const partial of partials) if (isLegalSharding(shape, { dims, partial }, mesh)) out.push(specToString({ dims, partial }));
    return out.sort();
  }

  it.each([
    [[8, 6], mesh2x4],
    [[4, 4, 3], mesh2x4],
    [[2], mesh2x4],
    [[], mesh2x4],
    [[12, 4], deviceMesh([{ name: 'x', size: 2, ...link }, { name: 'y', size: 3, ...link }, { name: 'z', size: 2, ...link }])],
  ] as const)('shape %j: exactly the specs the verifier accepts, each once', (shape, mesh) => {
    const got = legalSpecs(shape, mesh).map(specToString);
    expect(new Set(got).size).toBe(got.length);
    expect([...got].sort()).toEqual(bruteForce(shape, mesh));
  });
});
