/** Logical meshes, their per-axis α-β from the physical links, and pipeline submeshes. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCluster, parseCluster } from '../src/cluster/load.js';
import { transferLink } from '../src/cluster/links.js';
import { commGroup, logicalMesh, logicalMeshes, meshShapes } from '../src/cluster/mesh.js';
import { inHostSizes, submeshes } from '../src/cluster/submesh.js';
import type { Cluster } from '../src/cluster/types.js';

const EXAMPLES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'clusters');
const load = (name: string): Cluster => loadCluster(path.join(EXAMPLES, name));

function intra(c: Cluster, group = 0) {
  const g = c.groups[group];
  if (!g) throw new Error('no group');
  return g.intraHost;
}
function inter(c: Cluster) {
  if (!c.interHost) throw new Error('no network');
  return c.interHost;
}

describe('mesh shapes', () => {
  /** Brute force: every tuple of 1..3 factors > 1 whose product is n. */
  function bruteForce(n: number): string[] {
    const out = new Set<string>([`${n}`]);
    for (let a = 2; a <= n; a++)
      for (let b = 2; b <= n; b++) {
        if (a * b === n) out.add(`${a},${b}`);
        for (let c = 2; c <= n; c++) if (a * b * c === n) out.add(`${a},${b},${c}`);
      }
    return [...out].sort();
  }
  it.each([1, 2, 6, 8, 12, 16, 64])('%i devices: all 1-, 2- and 3-D factorizations', (n) => {
    const shapes = meshShapes(n).map((s) => s.join(','));
    expect(new Set(shapes).size).toBe(shapes.length);
    expect([...shapes].sort()).toEqual(bruteForce(n));
  });

  it('a 2x8 cluster has 7 meshes and 8x8 has 16', () => {
    expect(logicalMeshes(load('2x8-a100.yaml')).length).toBe(7);
    expect(logicalMeshes(load('8x8-a100.yaml')).length).toBe(16);
  });
});

describe('alpha-beta per mesh axis', () => {
  const c = load('2x8-a100.yaml');

  it('[2, 8]: x crosses hosts and its 8 concurrent groups share each host port; y stays inside', () => {
    const [x, y] = logicalMesh(c, [2, 8]).axes;
    expect(x).toMatchObject({ name: 'x', size: 2, link: 'inter-host', sharedNic: 8 });
    expect(x?.alpha).toBe(inter(c).latency);
    expect(x?.beta).toBeCloseTo(8 / inter(c).bandwidth, 20);
    expect(y).toMatchObject({ name: 'y', size: 8, link: 'intra-host' });
    expect(y?.alpha).toBe(intra(c).latency);
    expect(y?.beta).toBeCloseTo(1 / intra(c).bandwidth, 20);
  });

  it('[16]: one ring over both hosts crosses each port once, so the network alone bounds it', () => {
    const [x] = logicalMesh(c, [16]).axes;
    expect(x).toMatchObject({ size: 16, link: 'mixed', hosts: 2, devicesPerHost: 8, sharedNic: 1 });
    expect(x?.beta).toBeCloseTo(Math.max(1 / intra(c).bandwidth, 1 / inter(c).bandwidth), 20);
    // all-to-all: 8 devices per host each send 8/16 of their data off the host
    expect(x?.alltoallBeta).toBeCloseTo((8 * 8) / 15 / inter(c).bandwidth, 20);
  });

  it('[4, 4]: x mixes both links; its bottleneck is the port shared by 4 groups', () => {
    const [x, y] = logicalMesh(c, [4, 4]).axes;
    expect(x).toMatchObject({ size: 4, link: 'mixed', hosts: 2, devicesPerHost: 2, sharedNic: 4 });
    expect(x?.beta).toBeCloseTo(4 / inter(c).bandwidth, 20);
    expect(x?.alpha).toBe(Math.max(inter(c).latency, intra(c).latency));
    expect(y?.link).toBe('intra-host');
  });

  it('a mixed axis whose intra-host link is the slower one is bounded by it', () => {
    // PCIe 3 (15.75 GB/s per device) inside, 400 Gb/s (50 GB/s) between hosts
    const p = parseCluster('hosts: 2\ndevicesPerHost: 8\ndevice: A100-80GB\nintraHost: pcie3\ninterHost: ib-ndr\n', 'pcie.yaml');
    const [x] = logicalMesh(p, [16]).axes;
    expect(x).toMatchObject({ size: 16, link: 'mixed', sharedNic: 1 });
    expect(1 / intra(p).bandwidth).toBeGreaterThan(1 / inter(p).bandwidth);
    expect(x?.beta).toBeCloseTo(1 / intra(p).bandwidth, 20);
    expect(x?.alpha).toBe(Math.max(intra(p).latency, inter(p).latency));
  });

  it('an axis over several hosts of different links is bounded by the slowest', () => {
    const m = load('mixed.yaml');
    // pairs of neighbouring devices: all inside a host, some on the PCIe V100 hosts
    const [, y] = logicalMesh(m, [13, 2]).axes;
    expect(y?.link).toBe('intra-host');
    expect(y?.beta).toBeCloseTo(1 / intra(m, 1).bandwidth, 20);
    expect(1 / intra(m, 1).bandwidth).toBeGreaterThan(1 / intra(m, 0).bandwidth);
  });

  it('the flat group of several axes is computed over the combined groups', () => {
    const mesh = logicalMesh(c, [2, 8]);
    const g = commGroup(mesh, ['x', 'y']);
    const [flat16] = logicalMesh(c, [16]).axes;
    expect(g.axes.map((a) => a.size)).toEqual([2, 8]);
    expect(g.flat.size).toBe(16);
    expect(g.flat.beta).toBeCloseTo(flat16?.beta ?? NaN, 20);
    expect(commGroup(mesh, ['y']).flat).toBe(mesh.axes[1]);
  });

  it('meshes over a subset of devices: one host of a 2x8 cluster uses only NVLink', () => {
    const host1 = c.hosts[1]?.devices ?? [];
    for (const mesh of logicalMeshes(c, host1)) {
      for (const a of mesh.axes) expect(a.link).toBe('intra-host');
      expect(mesh.devices).toEqual(host1);
    }
  });

  it('a single device has one axis of size 1 and no communication cost', () => {
    const one = parseCluster('hosts: 1\ndevicesPerHost: 1\ndevice: A100-80GB\nintraHost: nvlink3\n', 'one.yaml');
    expect(logicalMeshes(one)).toEqual([expect.objectContaining({ shape: [1], axes: [expect.objectContaining({ size: 1, alpha: 0, beta: 0, link: 'none' })] })]);
  });

  it('rejects a shape that does not fit the devices', () => {
    expect(() => logicalMesh(c, [3, 5])).toThrow(/does not fit 16 devices/);
  });
});

describe('submeshes for the pipeline planner', () => {
  it('2x8: 1, 2, 4, 8 devices of one host, then both hosts', () => {
    const s = submeshes(load('2x8-a100.yaml'));
    expect(s.map((x) => x.shape)).toEqual([
      [1, 1],
      [1, 2],
      [1, 4],
      [1, 8],
      [2, 8],
    ]);
    expect(s.map((x) => x.placements)).toEqual([16, 8, 4, 2, 1]);
    for (const x of s) expect(x.devices.length).toBe(x.size);
  });

  it('hosts of 6 devices: powers of two and the divisors of 6', () => {
    expect(inHostSizes(6)).toEqual([1, 2, 3, 4, 6]);
    expect(inHostSizes(8)).toEqual([1, 2, 4, 8]);
    const c = parseCluster('hosts: 3\ndevicesPerHost: 6\ndevice: H100-80GB\nintraHost: nvlink4\ninterHost: ib-ndr\n', 'six.yaml');
    expect(submeshes(c).map((x) => x.shape.join('x'))).toEqual(['1x1', '1x2', '1x3', '1x4', '1x6', '2x6', '3x6']);
  });

  it('heterogeneous: each submesh has one device type, and its devices are of that group', () => {
    const c = load('mixed.yaml');
    const s = submeshes(c);
    for (const x of s) {
      for (const d of x.devices) expect(c.devices[d]?.group).toBe(x.group);
      expect(x.deviceType).toBe(c.groups[x.group]?.device.name);
    }
    expect(s.filter((x) => x.deviceType === 'V100-32GB').map((x) => x.shape.join('x'))).toEqual(['1x1', '1x2', '1x4', '2x4']);
  });
});

describe('transfer between stages', () => {
  const c = load('2x8-a100.yaml');
  it('inside a host, pairs of devices move data in parallel over NVLink', () => {
    const t = transferLink(c, [0, 1, 2, 3], [4, 5, 6, 7]);
    expect(t.beta).toBeCloseTo(1 / (4 * intra(c).bandwidth), 20);
    expect(t.alpha).toBe(intra(c).latency);
  });
  it('across hosts, the host port is the limit', () => {
    const t = transferLink(c, [0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15]);
    expect(t.beta).toBeCloseTo(1 / inter(c).bandwidth, 20);
    expect(t.alpha).toBe(inter(c).latency);
  });
});
