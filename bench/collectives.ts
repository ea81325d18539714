/**
 * All-reduce bandwidth between 4 local workers on 64 MiB, as nccl-tests reports it, next to
 * this machine's plain memory-copy bandwidth measured in the same run:
 *
 *   npm run bench:collectives [-- --mib 64 --workers 4 --iters 10 --no-mpi --json]
 *
 * algbw = bytes / time; busbw = algbw * 2(n-1)/n (nccl-tests' all-reduce bus bandwidth, the
 * figure comparable to a link's speed); memcpy = bytes copied per second by
 * Float32Array.set of the same size. GB/s are 1e9 bytes per second. With mpirun on PATH
 * the same all-reduce also runs on 4 MPI processes.
 *
 * This file is also the worker program (allReduceBench), imported by the workers.
 */
import { fileURLToPath } from 'node:url';
import type { Communicator } from '../src/runtime/collectives/communicator.js';
import { findMpirun, runMpi } from '../src/runtime/collectives/mpi/launcher.js';
import { runThreads } from '../src/runtime/collectives/threads/launcher.js';

interface BenchArgs {
  readonly bytes: number;
  readonly iters: number;
}

/** Worker program: one checked warm-up all-reduce, then `iters` timed ones; returns seconds per call. */
export async function allReduceBench(comm: Communicator, args: BenchArgs): Promise<number> {
  const x = new Float32Array(args.bytes / 4).fill(comm.rank + 1);
  await comm.allReduce(x, comm.world, 'warmup');
  const want = (comm.size * (comm.size + 1)) / 2;
  if (x[0] !== want || x[x.length - 1] !== want || x[x.length >> 1] !== want)
    throw new Error(`all-reduce gave ${x[0]}, expected ${want}`);
  x.fill(1); // keep values finite over the timed calls
  await comm.barrier(comm.world, 'start');
  const t0 = performance.now();
  for (let i = 0; i < args.iters; i++) await comm.allReduce(x, comm.world, `iter ${i}`);
  await comm.barrier(comm.world, 'end');
  return (performance.now() - t0) / 1000 / args.iters;
}

interface Figures {
  bytes: number;
  workers: number;
  iters: number;
  threads: { secondsPerAllReduce: number; algbwGBps: number; busbwGBps: number };
  memcpyGBps: number;
  ratioBusbwToMemcpy: number;
  mpi?: { secondsPerAllReduce: number; algbwGBps: number; busbwGBps: number; ratioBusbwToMemcpy: number } | { skipped: string };
}

function memcpyGBps(bytes: number, reps: number): number {
  const src = new Float32Array(bytes / 4).fill(1.5);
  const dst = new Float32Array(bytes / 4);
  dst.set(src); // touch pages before timing
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    dst.set(src);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  if (dst[dst.length - 1] !== 1.5) throw new Error('copy check failed');
  return bytes / best / 1e9;
}

function bandwidth(bytes: number, n: number, seconds: number): { secondsPerAllReduce: number; algbwGBps: number; busbwGBps: number } {
  const algbw = bytes / seconds / 1e9;
  return { secondsPerAllReduce: seconds, algbwGBps: algbw, busbwGBps: (algbw * 2 * (n - 1)) / n };
}

function slowest(results: unknown[]): number {
  const times = results.map((r) => (typeof r === 'number' ? r : NaN));
  if (times.some((t) => !Number.isFinite(t))) throw new Error(`a worker returned no time: ${JSON.stringify(results)}`);
  return Math.max(...times);
}

function option(argv: readonly string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}

async function main(argv: readonly string[]): Promise<void> {
  const json = argv.includes('--json');
  const bytes = Math.round(option(argv, '--mib', 64) * 2 ** 20 / 4) * 4;
  const workers = option(argv, '--workers', 4);
  const iters = option(argv, '--iters', 10);
  const module = fileURLToPath(import.meta.url);
  const args: BenchArgs = { bytes, iters };

  const threads = await runThreads({ workers, module, exportName: 'allReduceBench', args: () => args });
  const memcpy = memcpyGBps(bytes, 10);
  const t = bandwidth(bytes, workers, slowest(threads.results));
  const figures: Figures = { bytes, workers, iters, threads: t, memcpyGBps: memcpy, ratioBusbwToMemcpy: t.busbwGBps / memcpy };

  if (argv.includes('--no-mpi')) figures.mpi = { skipped: '--no-mpi' };
  else if (!findMpirun()) figures.mpi = { skipped: 'mpirun is not on PATH' };
  else {
    const mpi = await runMpi({ processes: workers, module, exportName: 'allReduceBench', args });
    const m = bandwidth(bytes, workers, slowest(mpi.results));
    figures.mpi = { ...m, ratioBusbwToMemcpy: m.busbwGBps / memcpy };
  }

  if (json) {
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    return;
  }
  const mib = (bytes / 2 ** 20).toFixed(0);
  const line = (name: string, b: { secondsPerAllReduce: number; algbwGBps: number; busbwGBps: number }): string =>
    `${name.padEnd(10)} all-reduce ${mib} MiB x ${workers}: ${(b.secondsPerAllReduce * 1e3).toFixed(1)} ms, ` +
    `algbw ${b.algbwGBps.toFixed(2)} GB/s, busbw ${b.busbwGBps.toFixed(2)} GB/s, busbw/memcpy ${(b.busbwGBps / memcpy).toFixed(2)}`;
  console.log(line('threads', t));
  if (figures.mpi && 'busbwGBps' in figures.mpi) console.log(line('mpi', figures.mpi));
  else if (figures.mpi) console.log(`mpi        skipped: ${figures.mpi.skipped}`);
  console.log(`memcpy     ${mib} MiB Float32Array.set: ${memcpy.toFixed(2)} GB/s`);
}

// Run only as a script: workers import this file for allReduceBench.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
