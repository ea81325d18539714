/**
 * The script each thread worker runs: it attaches to the run's shared memory, imports the
 * user's module and calls its exported program with a ThreadCommunicator, then reports the
 * result (or the error, with rank and label) to the launcher.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CollectiveError } from '../errors.js';
import { ControlLayout, FAILED, FINISHED, type SharedInit } from './shared-state.js';
import { ThreadCommunicator } from './thread-communicator.js';
import type { WorkerMessage, WorkerSetup } from './messages.js';

/** Starting a worker and importing its program may take long on a loaded machine. */
const STARTUP_TIMEOUT_MS = 120_000;

function isSetup(x: unknown): x is WorkerSetup {
  return typeof x === 'object' && x !== null && 'rank' in x && 'shared' in x && 'moduleUrl' in x;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port || !isSetup(workerData)) throw new Error('worker-entry.js must be started by the threads launcher');
  const setup: WorkerSetup = workerData;
  const shared: SharedInit = setup.shared;
  const ctl = new Int32Array(shared.control);
  const status = new ControlLayout(shared.size).status(setup.rank);
  const comm = new ThreadCommunicator(setup.rank, shared, setup.timeoutMs, setup.kernels);
  const post = (m: WorkerMessage): void => port.postMessage(m);
  try {
    const mod: unknown = await import(setup.moduleUrl);
    const fn: unknown = typeof mod === 'object' && mod !== null ? Reflect.get(mod, setup.exportName) : undefined;
    if (typeof fn !== 'function')
      throw new Error(`module ${setup.moduleUrl} has no exported function '${setup.exportName}'`);
    comm.rendezvous(Math.max(setup.timeoutMs, STARTUP_TIMEOUT_MS));
    const result: unknown = await fn(comm, setup.args);
    Atomics.store(ctl, status, FINISHED);
    Atomics.notify(ctl, status);
    post({ type: 'done', rank: setup.rank, result, counts: comm.counts() });
  } catch (e) {
    Atomics.store(ctl, status, FAILED);
    Atomics.notify(ctl, status);
    const err = e instanceof Error ? e : new Error(String(e));
    post({
      type: 'error',
      rank: setup.rank,
      // A program's own error says where it stood in the collective sequence.
      message:
        err instanceof CollectiveError
          ? err.message
          : `${err.message} (after ${comm.lastCompleted() ?? 'no collective'})`,
      stack: err.stack ?? '',
      label: err instanceof CollectiveError ? err.label : undefined,
      counts: comm.counts(),
      culprit: err instanceof CollectiveError ? err.culprit : undefined,
    });
  }
}

await main();
