/**
 * What every process of an MPI run executes:
 *   mpirun -np N node dist/src/runtime/collectives/mpi/mpi-main.js MODULE [EXPORT]
 * (or srun ... the same). It initialises MPI, runs MODULE's exported program (default
 * export 'default') with an MpiCommunicator and the JSON arguments of AUTOPAR_MPI_ARGS,
 * writes {result, counts} to AUTOPAR_MPI_OUT/rank-R.json when that directory is given, and
 * finalises MPI. A program that throws prints an AUTOPAR_ERROR line (rank, label) on stderr
 * and aborts the whole job (MPI_Abort), so no rank is left waiting.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { moduleUrl } from '../compiled.js';
import { CollectiveError } from '../errors.js';
import { MpiCommunicator } from './mpi-communicator.js';
import { ERROR_MARK, Watchdog } from './watchdog.js';
import { encode } from './wire.js';
import { pinLocalDevice } from './local-device.js';

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * One rank's whole life: MPI up, `program(comm, args)` run under the watchdog, its result
 * and counts written to AUTOPAR_MPI_OUT/rank-R.json when that is set, MPI down. A
 * program that throws prints an AUTOPAR_ERROR line and aborts the job. Also used by
 * `autopar worker DIR`, which mpirun or srun start on every host. Resolves to the
 * program's result on this rank (undefined after an abort).
 */
export async function runRank<T, A>(program: (comm: MpiCommunicator, args: A) => Promise<T>, args: A): Promise<T | undefined> {
  pinLocalDevice();
  const comm = new MpiCommunicator();
  const timeoutMs = Number(process.env.AUTOPAR_TIMEOUT_MS ?? DEFAULT_TIMEOUT_MS);
  const watchdog = new Watchdog(comm.rank, timeoutMs);
  comm.attachWatchdog(watchdog);
  let result: T;
  try {
    comm.rendezvous();
    result = await program(comm, args);
    const out = process.env.AUTOPAR_MPI_OUT;
    if (out) fs.writeFileSync(path.join(out, `rank-${comm.rank}.json`), encode({ result, counts: comm.counts() }));
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const message =
      err instanceof CollectiveError ? err.message : `rank ${comm.rank}: ${err.message} (after ${comm.lastCompleted() ?? 'no collective'})`;
    const label = err instanceof CollectiveError ? err.label : undefined;
    fs.writeSync(2, `${ERROR_MARK}${JSON.stringify({ rank: comm.rank, label, message })}\n`);
    comm.abort(1);
    return undefined;
  }
  await watchdog.stop();
  comm.finalize();
  return result;
}

async function main(): Promise<void> {
  const [module, exportName = 'default'] = process.argv.slice(2);
  if (!module) {
    process.stderr.write('usage: mpirun -np N node mpi-main.js MODULE [EXPORT]\n');
    process.exit(2);
  }
  const args: unknown = process.env.AUTOPAR_MPI_ARGS ? JSON.parse(process.env.AUTOPAR_MPI_ARGS) : undefined;
  // Loading the program is part of the run: a missing module or export fails the rank
  // the same way a program that throws does (after MPI is up, so the job aborts cleanly).
  await runRank(async (comm, a) => {
    const mod: unknown = await import(moduleUrl(module));
    const fn: unknown = typeof mod === 'object' && mod !== null ? Reflect.get(mod, exportName) : undefined;
    if (typeof fn !== 'function') throw new Error(`module ${module} has no exported function '${exportName}'`);
    return (await Reflect.apply(fn, undefined, [comm, a])) as unknown;
  }, args);
}

// Run as a script (mpirun ... mpi-main.js MODULE); imported, it only provides runRank.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
