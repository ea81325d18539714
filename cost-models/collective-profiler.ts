/**
 * Measures the collectives of autopar's own runtime on this machine: all-reduce,
 * all-gather, reduce-scatter and all-to-all over every rank of a run (2 ranks, and the
 * number of cores when larger, at most MAX_RANKS), at sizes from 4 KiB to 16 MiB, and
 * fits α and β per kind and rank count (alpha-beta.ts). The ranks run
 * collective-bench.ts: worker threads over shared memory (the default, this machine's
 * intra-host transport), or MPI processes under mpirun.
 */
import { cpus } from 'node:os';
import { AutoparError } from '../src/errors.js';
import { compiledSibling } from '../src/runtime/collectives/compiled.js';
import { RunError } from '../src/runtime/collectives/errors.js';
import { findMpirun, runMpi } from '../src/runtime/collectives/mpi/launcher.js';
import { runThreads } from '../src/runtime/collectives/threads/launcher.js';
import { fitAlphaBeta, linkBytes, type AlphaBetaFit } from './alpha-beta.js';
import { PROFILED_COLLECTIVES, type BenchCase, type CollectiveBenchArgs, type ProfiledCollective } from './collective-bench.js';
import type { CollectiveFit, CollectivePoint, CollectiveProfile } from './profile.js';

export type CollectiveTransport = CollectiveProfile['transport'];

/** More ranks than this are not timed: the runs would take long and the fit changes little. */
export const MAX_RANKS = 8;

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const FULL_SIZES: readonly number[] = [4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB];
export const QUICK_SIZES: readonly number[] = [4 * KiB, 64 * KiB, MiB, 16 * MiB];

export interface CollectiveProfileOptions {
  readonly transport?: CollectiveTransport;
  /** Rank counts to measure; default 2 and the number of cores if larger (at most MAX_RANKS). */
  readonly ranks?: readonly number[];
  readonly kinds?: readonly ProfiledCollective[];
  /** nccl-tests bytes; each is rounded down to a multiple of 4 × ranks. Default QUICK_SIZES or FULL_SIZES. */
  readonly sizes?: readonly number[];
  readonly quick?: boolean;
  readonly rounds?: number;
  readonly minBatchSeconds?: number;
  readonly log?: (line: string) => void;
}

export function defaultRanks(cores: number = cpus().length): number[] {
  const most = Math.min(cores, MAX_RANKS);
  return most > 2 ? [2, most] : [2];
}

/** `bytes` rounded down to what `ranks` can split into float32 chunks (at least one element each). */
export function splittableBytes(bytes: number, ranks: number): number {
  const unit = 4 * ranks;
  return Math.max(unit, Math.floor(bytes / unit) * unit);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Every rank's per-call seconds, [case][round], checked: a worker result is untrusted data. */
function rankTimes(result: unknown, rank: number, cases: number, rounds: number): number[][] {
  const bad = (what: string): Error => new Error(`collective profile: rank ${rank} returned ${what}; expected ${cases} cases x ${rounds} rounds of seconds`);
  if (!Array.isArray(result) || result.length !== cases) throw bad(`${Array.isArray(result) ? result.length : typeof result} cases`);
  return result.map((row: unknown) => {
    if (!Array.isArray(row) || row.length !== rounds) throw bad('a short row');
    return row.map((t: unknown) => {
      if (typeof t !== 'number' || !(t > 0)) throw bad(`a time of ${String(t)}`);
      return t;
    });
  });
}

/** Runs the bench on `ranks` and returns, per case, the median over rounds of the slowest rank's time. */
async function timeCases(transport: CollectiveTransport, ranks: number, args: CollectiveBenchArgs): Promise<number[]> {
  const module = compiledSibling(import.meta.url, 'collective-bench.js');
  const exportName = 'collectiveBench';
  const run = async (): Promise<unknown[]> => {
    switch (transport) {
      case 'threads':
        return (await runThreads({ workers: ranks, module, exportName, args: () => args })).results;
      case 'mpi':
        if (!findMpirun())
          throw new AutoparError('E_USAGE', '--transport mpi: mpirun is not on PATH; install Open MPI (apt-get install openmpi-bin libopenmpi-dev), or measure the threads transport (the default)');
        return (await runMpi({ processes: ranks, module, exportName, args })).results;
      default: {
        const never: never = transport;
        return never;
      }
    }
  };
  let results: unknown[];
  try {
    results = await run();
  } catch (e) {
    // a failed run is the runtime's error: say what was being measured and how to skip it
    if (e instanceof RunError) throw new AutoparError('E_INTERNAL', `measuring collectives on ${ranks} ${transport} ranks failed: ${e.message} (--no-collectives skips them)`);
    throw e;
  }
  const times = results.map((r, rank) => rankTimes(r, rank, args.cases.length, args.rounds));
  return args.cases.map((_, c) => {
    const slowest = Array.from({ length: args.rounds }, (_, r) => Math.max(...times.map((t) => t[c]?.[r] ?? NaN)));
    return median(slowest);
  });
}

export function fitPoints(kind: ProfiledCollective, ranks: number, points: readonly CollectivePoint[]): AlphaBetaFit {
  return fitAlphaBeta(points.filter((p) => p.kind === kind && p.ranks === ranks).map((p) => ({ linkBytes: linkBytes(kind, p.bytes, ranks), seconds: p.seconds })));
}

/** Points of every kind at every size on `ranks`, in one run (cases interleaved round by round). */
export async function measureCollectivePoints(
  transport: CollectiveTransport,
  ranks: number,
  kinds: readonly ProfiledCollective[],
  sizes: readonly number[],
  opts: { rounds?: number; minBatchSeconds?: number } = {},
): Promise<CollectivePoint[]> {
  const cases: BenchCase[] = kinds.flatMap((kind) => [...new Set(sizes.map((s) => splittableBytes(s, ranks)))].map((bytes) => ({ kind, bytes })));
  const args: CollectiveBenchArgs = { cases, rounds: opts.rounds ?? 9, minBatchSeconds: opts.minBatchSeconds ?? 0.004 };
  const seconds = await timeCases(transport, ranks, args);
  return cases.map((c, i) => ({ kind: c.kind, ranks, bytes: c.bytes, seconds: seconds[i] ?? NaN }));
}

export async function measureCollectives(opts: CollectiveProfileOptions = {}): Promise<CollectiveProfile> {
  const transport = opts.transport ?? 'threads';
  const kinds = opts.kinds ?? PROFILED_COLLECTIVES;
  const quick = opts.quick === true;
  const sizes = opts.sizes ?? (quick ? QUICK_SIZES : FULL_SIZES);
  const log = opts.log ?? ((): void => undefined);
  const rankCounts = opts.ranks ?? defaultRanks();
  const points: CollectivePoint[] = [];
  const fits: CollectiveFit[] = [];
  for (const ranks of rankCounts) {
    const measured = await measureCollectivePoints(transport, ranks, kinds, sizes, {
      rounds: opts.rounds ?? (quick ? 11 : 21),
      minBatchSeconds: opts.minBatchSeconds ?? 0.004,
    });
    points.push(...measured);
    for (const kind of kinds) {
      const fit = fitPoints(kind, ranks, measured);
      fits.push({ kind, ranks, ...fit });
      log(`${kind} x${ranks} (${transport}): alpha ${(fit.alpha * 1e6).toFixed(1)} us, link ${(1 / fit.beta / 1e9).toFixed(2)} GB/s, fit within ${(fit.maxRelError * 100).toFixed(0)}%`);
    }
  }
  return { transport, clock: 'wall', points, fits };
}
