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
import { moduleUrl } from '../compiled.js';
import { CollectiveError } from '../errors.js';
import { MpiCommunicator } from './mpi-communicator.js';
import { ERROR_MARK, Watchdog } from './watchdog.js';
import { encode } from './wire.js';

const DEFAULT_TIMEOUT_MS = 60_000;

async function main(): Promise<void> {
  const [module, exportName = 'default'] = process.argv.slice(2);
  if (!module) {
    process.stderr.write('usage: mpirun -np N node mpi-main.js MODULE [EXPORT]\n');
    process.exit(2);
  }
  const comm = new MpiCommunicator();
  const timeoutMs = Number(process.env.AUTOPAR_TIMEOUT_MS ?? DEFAULT_TIMEOUT_MS);
  const watchdog = new Watchdog(comm.rank, timeoutMs);
  comm.attachWatchdog(watchdog);
  try {
    const args: unknown = process.env.AUTOPAR_MPI_ARGS ? JSON.parse(process.env.AUTOPAR_MPI_ARGS) : undefined;
    const mod: unknown = await import(moduleUrl(module));
    const fn: unknown = typeof mod === 'object' && mod !== null ? Reflect.get(mod, exportName) : undefined;
    if (typeof fn !== 'function') throw new Error(`module ${module} has no exported function '${exportName}'`);
    comm.rendezvous();
    const result: unknown = await fn(comm, args);
    const out = process.env.AUTOPAR_MPI_OUT;
    if (out) fs.writeFileSync(path.join(out, `rank-${comm.rank}.json`), encode({ result, counts: comm.counts() }));
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const message =
      err instanceof CollectiveError ? err.message : `rank ${comm.rank}: ${err.message} (after ${comm.lastCompleted() ?? 'no collective'})`;
    const label = err instanceof CollectiveError ? err.label : undefined;
    fs.writeSync(2, `${ERROR_MARK}${JSON.stringify({ rank: comm.rank, label, message })}\n`);
    comm.abort(1);
    return;
  }
  await watchdog.stop();
  comm.finalize();
}

await main();
