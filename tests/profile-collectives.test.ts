/**
 * Collectives in the profile: the α-β fit recovers known figures, the calibrated model
 * replaces exactly the intra-host links with the fits, old profiles (collectives: null)
 * still load, and on this machine a model fitted on the threads runtime predicts a fresh
 * all-reduce at a size it did not measure.
 */
import { describe, expect, it } from 'vitest';
import { fitAlphaBeta, linkBytes } from '../cost-models/alpha-beta.js';
import { calibratedCostModel, measuredLink } from '../cost-models/calibrated.js';
import { busBandwidthFactor, hierarchicalTime } from '../cost-models/collectives.js';
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { MiB, QUICK_SIZES, defaultRanks, measureCollectivePoints, measureCollectives, splittableBytes } from '../cost-models/collective-profiler.js';
import { parseProfile, type CollectiveProfile, type Profile } from '../cost-models/profile.js';
import { syntheticProfile } from './helpers/profile.js';
import { parseCluster } from '../src/cluster/load.js';
import { commGroup, logicalMesh } from '../src/cluster/mesh.js';
import type { CollectiveKind } from '../cost-models/types.js';
import { findMpirun } from '../src/runtime/collectives/mpi/launcher.js';

const SIZES = [4096, 16384, 65536, 262144, 1 << 20, 4 << 20, 16 << 20];

describe('fitAlphaBeta', () => {
  it('recovers a known alpha and beta within 1% from points with +-0.5% noise', () => {
    const alpha = 25e-6;
    const beta = 1 / 3e9;
    for (const [kind, n] of [['all-reduce', 2], ['all-gather', 4], ['reduce-scatter', 8]] as const) {
      const points = SIZES.map((bytes, i) => {
        const x = linkBytes(kind, bytes, n);
        const noise = 1 + 0.005 * (i % 2 === 0 ? 1 : -1); // deterministic, alternating
        return { linkBytes: x, seconds: (alpha + beta * x) * noise };
      });
      const fit = fitAlphaBeta(points);
      expect(Math.abs(fit.alpha - alpha) / alpha, `${kind} x${n} alpha`).toBeLessThan(0.01);
      expect(Math.abs(fit.beta - beta) / beta, `${kind} x${n} beta`).toBeLessThan(0.01);
      expect(fit.maxRelError).toBeLessThan(0.011);
    }
  });

  it('is exact on exact points, and uses the ring factors: beta is per link byte', () => {
    const fit = fitAlphaBeta([1e3, 1e6, 1e7].map((bytes) => ({ linkBytes: linkBytes('all-reduce', bytes, 4), seconds: 1e-5 + 1.5 * bytes * 1e-9 })));
    // all-reduce over 4 ranks: factor 2(n-1)/n = 1.5, so 1.5 ns per buffer byte is 1 ns per link byte
    expect(fit.alpha).toBeCloseTo(1e-5, 12);
    expect(fit.beta).toBeCloseTo(1e-9, 15);
    expect(linkBytes('all-gather', 1000, 4)).toBe(750);
  });

  it('keeps alpha >= 0 and refuses fits that make no sense', () => {
    // time grows faster than linear from a negative intercept: refit through the origin
    expect(fitAlphaBeta([{ linkBytes: 1e3, seconds: 1e-7 }, { linkBytes: 1e6, seconds: 1e-3 }]).alpha).toBe(0);
    expect(() => fitAlphaBeta([{ linkBytes: 1e3, seconds: 1e-6 }])).toThrow(/at least 2 points/);
    expect(() => fitAlphaBeta([{ linkBytes: 1e3, seconds: 1e-3 }, { linkBytes: 1e6, seconds: 1e-6 }])).toThrow(/does not grow with size/);
    expect(() => fitAlphaBeta([{ linkBytes: 1e3, seconds: 0 }, { linkBytes: 1e6, seconds: 1e-6 }])).toThrow(/positive bytes and seconds/);
  });
});

/** Compute samples do not matter here: two of each at one rate. */
function profileWith(collectives: CollectiveProfile | null): Profile {
  const s = (label: string, work: number) => ({ label, flops: work, bytes: work, seconds: work / 1e9 });
  return syntheticProfile({ matmul: [s('a', 1e6), s('b', 1e9)], conv: [s('a', 1e6), s('b', 1e9)], elementwise: [s('a', 1e6), s('b', 1e9)] }, { matmulFlops: 1e9, convFlops: 1e9, memoryBandwidth: 1e9 }, collectives);
}

const FITS: CollectiveProfile = {
  transport: 'threads',
  clock: 'wall',
  points: [
    { kind: 'all-reduce', ranks: 2, bytes: 4096, seconds: 5e-5 },
    { kind: 'all-reduce', ranks: 2, bytes: 1 << 20, seconds: 3e-4 },
  ],
  fits: [
    { kind: 'all-reduce', ranks: 2, alpha: 50e-6, beta: 1 / 4e9, maxRelError: 0.1 },
    { kind: 'all-gather', ranks: 2, alpha: 30e-6, beta: 1 / 2e9, maxRelError: 0.1 },
    { kind: 'reduce-scatter', ranks: 2, alpha: 40e-6, beta: 1 / 1.5e9, maxRelError: 0.1 },
    { kind: 'all-to-all', ranks: 2, alpha: 60e-6, beta: 1 / 1e9, maxRelError: 0.1 },
    { kind: 'all-reduce', ranks: 4, alpha: 90e-6, beta: 1 / 3e9, maxRelError: 0.1 },
  ],
};

const cluster = (text: string) => parseCluster(text, 'test.yaml');
const A100 = 'device: A100-80GB\nintraHost: {bandwidth: 300GB/s, latency: 5us}\ninterHost: {bandwidth: 25GB/s, latency: 10us}\n';

describe('calibrated collectives', () => {
  const model = calibratedCostModel(profileWith(FITS));
  const analytical = analyticalCostModel();
  const one = cluster(`hosts: 1\ndevicesPerHost: 2\n${A100}`);
  const pair = commGroup(logicalMesh(one, [2]), ['x']);

  it('prices a collective on a measured intra-host group exactly as its fit: alpha + factor*bytes*beta', () => {
    for (const f of FITS.fits.filter((x) => x.ranks === 2)) {
      const bytes = 3 * MiB;
      const want = f.alpha + busBandwidthFactor(f.kind, 2) * bytes * f.beta;
      const got = model.collective({ kind: f.kind, bytes }, pair);
      expect(got.seconds, f.kind).toBeCloseTo(want, 12);
      expect(got.algorithm).toBe('ring');
    }
    expect(model.name).toBe('calibrated (synthetic on test; threads collectives)');
  });

  it('uses the nearest measured rank count, alpha per ring step: 4 ranks of one host from the x4 fit, 3 from the x2 one (tie: larger)', () => {
    const four = cluster(`hosts: 1\ndevicesPerHost: 4\n${A100}`);
    const g4 = commGroup(logicalMesh(four, [4]), ['x']);
    expect(model.collective({ kind: 'all-reduce', bytes: 1e6 }, g4).seconds).toBeCloseTo(90e-6 + 1.5 * 1e6 / 3e9, 12);
    // all-gather was measured on 2 ranks only: alpha/(n-1) per step, 3 steps on 4 ranks
    expect(model.collective({ kind: 'all-gather', bytes: 1e6 }, g4).seconds).toBeCloseTo(3 * 30e-6 + 0.75 * 1e6 / 2e9, 12);
    expect(measuredLink(FITS, 'all-reduce', 3)?.fit.ranks).toBe(4);
    // broadcast, send and recv are priced with the all-gather fit
    expect(measuredLink(FITS, 'broadcast', 2)?.fit.kind).toBe('all-gather');
    expect(model.collective({ kind: 'send', bytes: 1e6 }, pair).seconds).toBeCloseTo(30e-6 + 1e6 / 2e9, 12);
  });

  it('leaves axes across hosts analytical and replaces only the intra-host axis of a 2-D mesh', () => {
    const two = cluster(`hosts: 2\ndevicesPerHost: 2\n${A100}`);
    const mesh = logicalMesh(two, [2, 2]); // x across hosts, y inside them
    const kinds: CollectiveKind[] = ['all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all', 'broadcast', 'send'];
    for (const kind of kinds) {
      const across = commGroup(mesh, ['x']);
      expect(across.flat.link).toBe('inter-host');
      expect(model.collective({ kind, bytes: 1e6 }, across)).toEqual(analytical.collective({ kind, bytes: 1e6 }, across));
      const inside = commGroup(mesh, ['y']);
      expect(model.collective({ kind, bytes: 1e6 }, inside).seconds, kind).toBeGreaterThan(analytical.collective({ kind, bytes: 1e6 }, inside).seconds);
    }
    // over both axes the flat group is mixed (kept analytical); the hierarchical form
    // runs its y parts on the measured link (the all-reduce fit prices all of them)
    const both = commGroup(mesh, ['x', 'y']);
    expect(both.flat.link).toBe('mixed');
    const ar = measuredLink(FITS, 'all-reduce', 2);
    const [x, y] = mesh.axes;
    if (!ar || !x || !y) throw new Error('no all-reduce fit or mesh axes');
    const want = hierarchicalTime('all-reduce', 1e6, [x, { ...y, alpha: ar.alpha, beta: ar.beta, alltoallBeta: ar.beta }]);
    expect(model.collective({ kind: 'all-reduce', bytes: 1e6, algorithm: 'hierarchical' }, both).seconds).toBeCloseTo(want ?? NaN, 15);
    expect(model.collective({ kind: 'all-reduce', bytes: 1e6, algorithm: 'ring' }, both)).toEqual(analytical.collective({ kind: 'all-reduce', bytes: 1e6, algorithm: 'ring' }, both));
  });

  it('without measured collectives the model keeps the analytical ones', () => {
    const plain = calibratedCostModel(profileWith(null));
    expect(plain.collective({ kind: 'all-reduce', bytes: 1e6 }, pair)).toEqual(analytical.collective({ kind: 'all-reduce', bytes: 1e6 }, pair));
    expect(plain.name).toBe('calibrated (synthetic on test)');
  });
});

describe('profile files with collectives', () => {
  it('load, and old ones with collectives: null still do', () => {
    expect(parseProfile(JSON.stringify(profileWith(FITS)), 'p.json').collectives).toEqual(FITS);
    expect(parseProfile(JSON.stringify(profileWith(null)), 'old.json').collectives).toBeNull();
    // as written before collectives were measured (version 1)
    expect(parseProfile(JSON.stringify({ ...profileWith(null), version: 1 }), 'v1.json').version).toBe(1);
    expect(() => parseProfile(JSON.stringify({ ...profileWith(null), version: 3 }), 'v3.json')).toThrow(/v3\.json: version: .*\(version 1 or 2\)/);
  });

  it('a bad fit names the file and the key', () => {
    const bad = { ...FITS, fits: [{ ...FITS.fits[0], beta: -1 }] };
    expect(() => parseProfile(JSON.stringify({ ...profileWith(null), collectives: bad }), 'p.json')).toThrow(/p\.json: collectives\.fits\[0\]\.beta: /);
    const twice = { ...FITS, fits: [FITS.fits[0], FITS.fits[0]] };
    expect(() => parseProfile(JSON.stringify({ ...profileWith(null), collectives: twice }), 'p.json')).toThrow(/p\.json: collectives\.fits\[1\]: a second fit for all-reduce x2/);
  });
});

describe('on this machine (threads runtime)', () => {
  it('measures 2 ranks, and the core count when larger (at most 8)', () => {
    expect(defaultRanks(2)).toEqual([2]);
    expect(defaultRanks(4)).toEqual([2, 4]);
    expect(defaultRanks(64)).toEqual([2, 8]);
    expect(splittableBytes(4096, 3)).toBe(4092);
  });

  it('a model fitted on 4 KiB..16 MiB predicts a fresh 4 MiB all-reduce on 2 threads within 50%', async () => {
    const held = 4 * MiB;
    expect(QUICK_SIZES).not.toContain(held);
    const pair = commGroup(logicalMesh(cluster(`hosts: 1\ndevicesPerHost: 2\n${A100}`), [2]), ['x']);
    // The machine is shared (2 cores, other sessions' load): each figure is the median of
    // interleaved rounds of the slowest rank, on the wall clock, and a burst of load can
    // still skew the fit or the fresh run (another test file runs beside this one: tries of
    // 0.50, 1.35 and 0.58 were seen under it); so up to five tries re-measure both. The fit
    // itself is off by up to ~30% between sizes here (cache effects make time per byte
    // grow with size), hence 50%.
    const errors: number[] = [];
    for (let attempt = 0; attempt < 5 && !(errors.at(-1)! < 0.5); attempt++) {
      const measured = await measureCollectives({ ranks: [2], kinds: ['all-reduce'], quick: true });
      const [fresh] = await measureCollectivePoints('threads', 2, ['all-reduce'], [held]);
      if (!fresh) throw new Error('no fresh point');
      const predicted = calibratedCostModel(profileWith(measured)).collective({ kind: 'all-reduce', bytes: held }, pair).seconds;
      errors.push(Math.abs(predicted - fresh.seconds) / fresh.seconds);
    }
    expect(errors.at(-1), `relative error per try: ${errors.map((e) => e.toFixed(3)).join(", ")}`).toBeLessThan(0.5);
  }, 60_000);
});

// Open MPI's ranks busy-poll: two sizes only, to check the path, not the figures. The sizes
// are far apart (4 KiB, 8 MiB) because under load (CI runs other test files beside this one)
// a 1 MiB all-reduce once measured faster than 4 KiB and the fit rightly refused a negative
// beta; a refused fit is re-measured, up to three tries, and the messages are kept.
describe.skipIf(!findMpirun())('on this machine (MPI transport, when mpirun is on PATH)', () => {
  it('measures all-reduce on 2 processes and fits positive figures', async () => {
    const sizes = [4096, 8 << 20];
    const refused: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const c = await measureCollectives({ transport: 'mpi', ranks: [2], kinds: ['all-reduce'], sizes, rounds: 5 });
        expect(c.transport).toBe('mpi');
        expect(c.points.map((p) => p.bytes)).toEqual(sizes);
        expect(c.fits[0]?.beta).toBeGreaterThan(0);
        return;
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        refused.push(e.message);
      }
    }
    throw new Error(`every try's fit was refused:\n${refused.join('\n')}`);
  }, 120_000);
});
