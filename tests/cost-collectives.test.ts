/** α-β collectives: nccl-tests bus-bandwidth factors, latency terms, algorithm choice, several axes. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { busBandwidthFactor, groupOf } from '../cost-models/collectives.js';
import type { CollectiveKind } from '../cost-models/types.js';
import type { AxisLink } from '../src/cluster/links.js';
import { loadCluster } from '../src/cluster/load.js';
import { commGroup, logicalMesh } from '../src/cluster/mesh.js';

const model = analyticalCostModel();
const EXAMPLES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'clusters');
const link = (size: number, alpha: number, bandwidth: number): AxisLink => ({ size, alpha, beta: 1 / bandwidth, alltoallBeta: 1 / bandwidth });

describe('nccl-tests bus bandwidth (Thakur et al. 2005 ring algorithms)', () => {
  const B = 100e9; // link bandwidth, bytes/s
  const S = 1 << 30; // bytes
  const expected: readonly [CollectiveKind, (n: number) => number][] = [
    ['all-reduce', (n) => (2 * (n - 1)) / n],
    ['all-gather', (n) => (n - 1) / n],
    ['reduce-scatter', (n) => (n - 1) / n],
  ];
  for (const [kind, factor] of expected) {
    it.each([2, 3, 4, 8, 16, 64])(`${kind} on %i ranks: busBw / algBw = the nccl-tests factor`, (n) => {
      // no latency: the time is all bandwidth, so busBw = B and algBw = S / time
      const est = model.collective({ kind, bytes: S }, groupOf([link(n, 0, B)]));
      const algBw = S / est.seconds;
      expect(B / algBw).toBeCloseTo(factor(n), 10);
      expect(busBandwidthFactor(kind, n)).toBeCloseTo(factor(n), 12);
      expect(est.busBytes / S).toBeCloseTo(factor(n), 12);
      expect(est.algorithm).toBe('ring');
    });
  }

  it('ring all-reduce on n ranks: 2(n-1)·α + 2(n-1)/n·S·β', () => {
    const n = 8;
    const alpha = 7e-6;
    const est = model.collective({ kind: 'all-reduce', bytes: S, algorithm: 'ring' }, groupOf([link(n, alpha, B)]));
    expect(est.seconds).toBeCloseTo(2 * (n - 1) * alpha + ((2 * (n - 1)) / n) * (S / B), 12);
  });

  it('one rank: nothing to do', () => {
    expect(model.collective({ kind: 'all-reduce', bytes: S }, groupOf([link(1, 1e-5, B)]))).toEqual({ seconds: 0, algorithm: 'none', busBytes: 0 });
  });
});

describe('algorithm choice', () => {
  const g = groupOf([link(64, 10e-6, 25e9)]);
  it('small all-reduces take the tree (log n latency), large ones the ring (less data)', () => {
    const small = model.collective({ kind: 'all-reduce', bytes: 1024 }, g);
    const large = model.collective({ kind: 'all-reduce', bytes: 1 << 30 }, g);
    expect(small.algorithm).toBe('tree');
    expect(large.algorithm).toBe('ring');
    expect(small.seconds).toBeLessThan(model.collective({ kind: 'all-reduce', bytes: 1024, algorithm: 'ring' }, g).seconds);
  });

  it('tree all-reduce is 2⌈log2 n⌉·α + 2·S·β; broadcast: ring (n-1)·α + S·β, tree ⌈log2 n⌉·(α + S·β)', () => {
    const n = 12; // ⌈log2 12⌉ = 4
    const alpha = 3e-6;
    const B = 40e9;
    const S = 5e6;
    const l = groupOf([link(n, alpha, B)]);
    expect(model.collective({ kind: 'all-reduce', bytes: S, algorithm: 'tree' }, l).seconds).toBeCloseTo(2 * 4 * alpha + (2 * S) / B, 15);
    expect(model.collective({ kind: 'broadcast', bytes: S, algorithm: 'ring' }, l).seconds).toBeCloseTo((n - 1) * alpha + S / B, 15);
    expect(model.collective({ kind: 'broadcast', bytes: S, algorithm: 'tree' }, l).seconds).toBeCloseTo(4 * (alpha + S / B), 15);
    expect(model.collective({ kind: 'broadcast', bytes: S }, l).busBytes).toBe(S);
  });

  it('all-gather has no tree', () => {
    expect(() => model.collective({ kind: 'all-gather', bytes: 1024, algorithm: 'tree' }, g)).toThrow(/no tree algorithm/);
  });

  it('send/recv is α + S·β; broadcast never beats S·β', () => {
    const l = link(2, 5e-6, 50e9);
    expect(model.collective({ kind: 'send', bytes: 1e6 }, groupOf([l])).seconds).toBeCloseTo(5e-6 + 1e6 / 50e9, 15);
    const b = model.collective({ kind: 'broadcast', bytes: 1e9 }, groupOf([link(8, 0, 50e9)]));
    expect(b.seconds).toBeGreaterThanOrEqual(1e9 / 50e9 - 1e-12);
  });

  it('a send over a group (a permute) runs at the all-to-all beta: peers off the host share its port', () => {
    const l: AxisLink = { size: 16, alpha: 2e-5, beta: 1e-11, alltoallBeta: 7e-11 };
    expect(model.collective({ kind: 'send', bytes: 1e6 }, groupOf([l])).seconds).toBeCloseTo(2e-5 + 1e6 * 7e-11, 15);
  });

  it('all-to-all moves (n-1)/n of the data per rank, at the all-to-all beta', () => {
    const l: AxisLink = { size: 4, alpha: 0, beta: 1e-11, alltoallBeta: 3e-11 };
    expect(model.collective({ kind: 'all-to-all', bytes: 4e9 }, groupOf([l])).seconds).toBeCloseTo((3 / 4) * 4e9 * 3e-11, 12);
  });
});

describe('collectives over mesh axes of a real cluster', () => {
  const c = loadCluster(path.join(EXAMPLES, '2x8-a100.yaml'));
  const mesh = logicalMesh(c, [2, 8]);
  const [x, y] = mesh.axes;
  const S = 1e9;

  it('hierarchical all-reduce over [2, 8] = reduce-scatter in the host, all-reduce of 1/8 across, all-gather back', () => {
    if (!x || !y) throw new Error('mesh axes');
    const est = model.collective({ kind: 'all-reduce', bytes: S, algorithm: 'hierarchical' }, commGroup(mesh, ['x', 'y']));
    const inner = 2 * ((y.size - 1) * y.alpha + ((y.size - 1) / y.size) * S * y.beta);
    const outerRing = 2 * (x.size - 1) * x.alpha + ((2 * (x.size - 1)) / x.size) * (S / y.size) * x.beta;
    expect(est.seconds).toBeCloseTo(inner + outerRing, 9);
  });

  it('for a large buffer, hierarchical beats one flat ring over 16 (which crosses the slow port 30 times)', () => {
    const group = commGroup(mesh, ['x', 'y']);
    const flat = model.collective({ kind: 'all-reduce', bytes: S, algorithm: 'ring' }, group);
    const auto = model.collective({ kind: 'all-reduce', bytes: S }, group);
    expect(auto.algorithm).toBe('hierarchical');
    expect(auto.seconds).toBeLessThan(flat.seconds);
  });

  it('the same all-reduce is much cheaper inside a host than across hosts', () => {
    const inside = model.collective({ kind: 'all-reduce', bytes: S }, commGroup(mesh, ['y']));
    const across = model.collective({ kind: 'all-reduce', bytes: S }, commGroup(mesh, ['x']));
    expect(across.seconds / inside.seconds).toBeGreaterThan(10);
  });

  it('hierarchical all-gather sends the small pieces over the slow axis first', () => {
    if (!x || !y) throw new Error('mesh axes');
    const est = model.collective({ kind: 'all-gather', bytes: S, algorithm: 'hierarchical' }, commGroup(mesh, ['x', 'y']));
    const slowFirst = (x.size - 1) * x.alpha + ((x.size - 1) / x.size) * (S / y.size) * x.beta + (y.size - 1) * y.alpha + ((y.size - 1) / y.size) * S * y.beta;
    expect(est.seconds).toBeCloseTo(slowFirst, 9);
  });

  it('hierarchical reduce-scatter runs the fast axis first on the whole input, the slow one on 1/8 of it', () => {
    if (!x || !y) throw new Error('mesh axes');
    const est = model.collective({ kind: 'reduce-scatter', bytes: S, algorithm: 'hierarchical' }, commGroup(mesh, ['x', 'y']));
    const fastFirst = (y.size - 1) * y.alpha + ((y.size - 1) / y.size) * S * y.beta + (x.size - 1) * x.alpha + ((x.size - 1) / x.size) * (S / y.size) * x.beta;
    expect(est.seconds).toBeCloseTo(fastFirst, 9);
    expect(est.busBytes).toBeCloseTo((15 / 16) * S, 3);
  });

  it('hierarchical broadcast is one broadcast per axis, each at its best algorithm', () => {
    if (!x || !y) throw new Error('mesh axes');
    const est = model.collective({ kind: 'broadcast', bytes: S, algorithm: 'hierarchical' }, commGroup(mesh, ['x', 'y']));
    // x has 2 ranks (ring and tree coincide: α + S·β); y has 8 (tree 3(α + S·β) vs ring 7α + S·β: ring for 1 GB)
    expect(est.seconds).toBeCloseTo(x.alpha + S * x.beta + (7 * y.alpha + S * y.beta), 9);
  });

  it('a permute over both axes of [2, 8] crosses the port once per device whose peer is on the other host', () => {
    // One group of 16, 8 devices on each host. A ring crosses each port once per step; in
    // a permute every device sends at once, and a device's peer is on the other host for
    // 8 of its 15 possible peers: k(n-k)/(n-1) = 8·8/15 streams per port, as in an all-to-all.
    const group = commGroup(mesh, ['x', 'y']);
    const net = c.interHost;
    if (!net) throw new Error('2x8-a100 has a network');
    const S = 1e8;
    const send = model.collective({ kind: 'send', bytes: S }, group).seconds;
    expect(send).toBeCloseTo(net.latency + (S * (8 * 8)) / 15 / net.bandwidth, 12);
    // Inside one host and one device per host, a permute is α + S·β as before.
    expect(model.collective({ kind: 'send', bytes: S }, commGroup(mesh, ['y'])).seconds).toBeCloseTo((y?.alpha ?? 0) + S * (y?.beta ?? 0), 15);
    expect(model.collective({ kind: 'send', bytes: S }, commGroup(mesh, ['x'])).seconds).toBeCloseTo((x?.alpha ?? 0) + S * (x?.beta ?? 0), 15);
  });

  it('transfer between stages is α + bytes·β', () => {
    expect(model.transfer(1e6, { alpha: 1e-5, beta: 1e-10 })).toBeCloseTo(1e-5 + 1e-4, 15);
    expect(model.transfer(0, { alpha: 1e-5, beta: 1e-10 })).toBe(0);
  });
});
