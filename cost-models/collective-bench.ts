/**
 * Worker program of the collective profiler (collective-profiler.ts): run by every rank
 * of a threads or MPI run, it times each (kind, size) case in interleaved rounds and
 * returns its own per-call seconds. Imports nothing heavy (workers load it).
 */
import type { Buf, Communicator } from '../src/runtime/collectives/communicator.js';

/** The collectives `autopar profile` measures. */
export const PROFILED_COLLECTIVES = ['all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all'] as const;
export type ProfiledCollective = (typeof PROFILED_COLLECTIVES)[number];

export interface BenchCase {
  readonly kind: ProfiledCollective;
  /** nccl-tests bytes (see communicator.ts): a multiple of 4 × ranks. */
  readonly bytes: number;
}

export interface CollectiveBenchArgs {
  readonly cases: readonly BenchCase[];
  readonly rounds: number;
  /** A timed batch repeats the call until it lasts at least this long (timer resolution, barrier noise). */
  readonly minBatchSeconds: number;
}

/** Rank's seconds per call: [case][round]. */
export type CollectiveBenchResult = number[][];

interface Prepared {
  readonly run: () => Promise<unknown>;
  readonly calls: number;
}

function call(comm: Communicator, c: BenchCase, buf: Float32Array): Promise<Buf> {
  switch (c.kind) {
    case 'all-reduce':
      return comm.allReduce(buf, comm.world, 'profile all-reduce');
    case 'all-gather':
      return comm.allGather(buf, comm.world, 'profile all-gather');
    case 'reduce-scatter':
      return comm.reduceScatter(buf, comm.world, 'profile reduce-scatter');
    case 'all-to-all':
      return comm.allToAll(buf, comm.world, 'profile all-to-all');
    default: {
      const never: never = c.kind;
      return never;
    }
  }
}

/** Elements of the buffer each rank passes: all-gather takes a shard of the gathered output. */
function inputElements(c: BenchCase, n: number): number {
  const elements = c.bytes / 4;
  if (!Number.isInteger(elements / n)) throw new Error(`${c.kind} of ${c.bytes} bytes: not a multiple of 4 x ${n} ranks`);
  return c.kind === 'all-gather' ? elements / n : elements;
}

export async function collectiveBench(comm: Communicator, args: CollectiveBenchArgs): Promise<CollectiveBenchResult> {
  const world = comm.world;
  const prepared: Prepared[] = [];
  for (const c of args.cases) {
    const buf = new Float32Array(inputElements(c, comm.size)).fill(comm.rank + 1);
    // One checked warm-up: a profile of a broken collective would be worse than none.
    const out = await call(comm, c, buf);
    // rank r holds r+1: sums give n(n+1)/2; the last chunk gathered or exchanged came from rank n-1
    const want = c.kind === 'all-reduce' || c.kind === 'reduce-scatter' ? (comm.size * (comm.size + 1)) / 2 : comm.size;
    const last = out[out.length - 1];
    if (last !== want) throw new Error(`${c.kind} of ${c.bytes} bytes gave ${String(last)} at the end, expected ${want}`);
    buf.fill(0); // in-place all-reduce keeps it at 0: no overflow, no denormals
    const run = (): Promise<Buf> => call(comm, c, buf);
    const t0 = performance.now();
    await run();
    const once = Math.max((performance.now() - t0) / 1000, 1e-7);
    // Every rank must make the same number of calls: rank 0's count is everyone's.
    const calls = new Int32Array([Math.max(1, Math.ceil(args.minBatchSeconds / once))]);
    await comm.broadcast(calls, world[0] ?? 0, world, 'profile calls');
    prepared.push({ run, calls: calls[0] ?? 1 });
  }
  const times: number[][] = prepared.map(() => []);
  for (let r = 0; r < args.rounds; r++) {
    for (const [i, p] of prepared.entries()) {
      await comm.barrier(world, 'profile round');
      const t0 = performance.now();
      for (let k = 0; k < p.calls; k++) await p.run();
      times[i]?.push((performance.now() - t0) / 1000 / p.calls);
    }
  }
  return times;
}
