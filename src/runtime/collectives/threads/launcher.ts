/**
 * Starts one worker thread per device on this machine, each running a program from a user
 * module with a Communicator over shared memory, and waits for all of them. The first
 * failure (a program that throws, a worker that dies, a collective that times out) ends the
 * whole run: the other workers are terminated and the promise rejects with a RunError
 * naming the rank and the label of the collective. The main thread only waits on events,
 * never on Atomics, so it stays responsive (vitest, a CLI progress display).
 */
import { Worker } from 'node:worker_threads';
import type { CollectiveCounts } from '../communicator.js';
import { compiledSibling, moduleUrl } from '../compiled.js';
import { RunError } from '../errors.js';
import type { WorkerMessage, WorkerSetup } from './messages.js';
import { ControlLayout, FAILED, createShared, defaultSlotBytes } from './shared-state.js';
import { startWorker } from '../../worker-argv.js';

export interface ThreadRunOptions {
  /** Number of workers (devices). */
  readonly workers: number;
  /** Path or file: URL of an ES module, compiled JavaScript (workers do not load TypeScript). */
  readonly module: string;
  /** Exported function `(comm, args) => result` to run; default 'default'. */
  readonly exportName?: string;
  /** Arguments of rank r's program (structured-cloneable); default undefined. */
  readonly args?: (rank: number) => unknown;
  /** Longest wait of a collective without progress before the run fails; default 60 s. */
  readonly timeoutMs?: number;
  /** Bytes of each of the two shared regions per worker (the segment size of collectives). */
  readonly slotBytes?: number;
  /** Sum kernels: WebAssembly SIMD where available (default), or the plain JavaScript loops. */
  readonly kernels?: 'wasm' | 'js';
}

export interface ThreadRunResult {
  /** What each rank's program returned (structured clones), by rank. */
  readonly results: unknown[];
  /** Collective counts of each rank. */
  readonly counts: CollectiveCounts[];
  readonly seconds: number;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

/** How long a rank's report that another rank failed waits for that rank's own error. */
const CULPRIT_GRACE_MS = 2_000;

export function runThreads(opts: ThreadRunOptions): Promise<ThreadRunResult> {
  try {
    return start(opts);
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e))); // bad options reject like failed runs
  }
}

function start(opts: ThreadRunOptions): Promise<ThreadRunResult> {
  const n = opts.workers;
  const shared = createShared(n, opts.slotBytes ?? defaultSlotBytes(n));
  const ctl = new Int32Array(shared.control);
  const layout = new ControlLayout(n);
  const entry = compiledSibling(import.meta.url, 'worker-entry.js');
  const url = moduleUrl(opts.module);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = performance.now();

  return new Promise((resolve, reject) => {
    const results: unknown[] = new Array<unknown>(n).fill(undefined);
    const counts: CollectiveCounts[] = Array.from({ length: n }, () => ({}));
    const done = new Array<boolean>(n).fill(false);
    let remaining = n;
    let failed = false;
    const workers: Worker[] = [];

    const consequences: ReturnType<typeof setTimeout>[] = [];
    const fail = (err: RunError): void => {
      if (failed) return;
      failed = true;
      for (const t of consequences) clearTimeout(t);
      // Wake every waiting worker, then stop them all; the first error is the one reported.
      Atomics.store(ctl, layout.abort, 1);
      if (err.rank !== undefined) Atomics.store(ctl, layout.status(err.rank), FAILED);
      void Promise.all(workers.map((w) => w.terminate())).finally(() => reject(err));
    };

    for (let rank = 0; rank < n; rank++) {
      const setup: WorkerSetup = {
        rank,
        shared,
        timeoutMs,
        moduleUrl: url,
        exportName: opts.exportName ?? 'default',
        args: opts.args?.(rank),
        kernels: opts.kernels ?? 'wasm',
      };
      const w = startWorker(entry, { workerData: setup });
      workers.push(w);
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'error') {
          counts[rank] = m.counts;
          const err = new RunError(m.message.startsWith(`rank ${rank}`) ? m.message : `rank ${rank}: ${m.message}`, rank, m.label);
          // "rank P failed without joining" is a consequence: P's own error says what
          // happened, and its message may still be on its way (on a loaded machine it
          // can come second). Wait a moment for it before reporting the consequence.
          if (m.culprit !== undefined && m.culprit !== rank) {
            consequences.push(setTimeout(() => fail(err), CULPRIT_GRACE_MS));
            return;
          }
          fail(err);
          return;
        }
        results[rank] = m.result;
        counts[rank] = m.counts;
        done[rank] = true;
        if (--remaining === 0 && !failed) {
          failed = true; // settled
          resolve({ results, counts, seconds: (performance.now() - started) / 1000 });
        }
      });
      w.on('error', (e) => fail(new RunError(`rank ${rank}: worker crashed: ${e.message}`, rank)));
      w.on('exit', (code) => {
        if (!done[rank]) fail(new RunError(`rank ${rank}: worker exited with code ${code} before its program finished`, rank));
      });
    }
  });
}
