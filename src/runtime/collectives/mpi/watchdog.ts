/**
 * Ends an MPI process whose collective blocks longer than the timeout. The process's only
 * thread is inside libmpi then, so a second thread (watchdog-thread.ts) watches a shared
 * record of the current call; past the deadline it prints the error (rank, kind, label) as
 * an AUTOPAR_ERROR line on stderr and kills the process, and mpirun then ends the job.
 */
import { Worker } from 'node:worker_threads';
import type { CollectiveKind } from '../communicator.js';

export const ERROR_MARK = 'AUTOPAR_ERROR ';
export const LABEL_BYTES = 512;

/** Shared record: i32[0] = 1 while in a call; f64[1] = its start (ms since epoch); label bytes after. */
export interface WatchState {
  readonly buffer: SharedArrayBuffer;
  readonly rank: number;
  readonly timeoutMs: number;
}

export class Watchdog {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly text: Uint8Array;
  private readonly worker: Worker;

  constructor(rank: number, timeoutMs: number) {
    const buffer = new SharedArrayBuffer(16 + LABEL_BYTES);
    this.i32 = new Int32Array(buffer, 0, 2);
    this.f64 = new Float64Array(buffer, 8, 1);
    this.text = new Uint8Array(buffer, 16, LABEL_BYTES);
    const state: WatchState = { buffer, rank, timeoutMs };
    this.worker = new Worker(new URL('./watchdog-thread.js', import.meta.url), { workerData: state });
    this.worker.unref();
  }

  enter(kind: CollectiveKind, label: string): void {
    const bytes = new TextEncoder().encode(`${kind}\n${label}`).subarray(0, LABEL_BYTES - 4);
    new DataView(this.text.buffer, this.text.byteOffset).setInt32(0, bytes.length, true);
    this.text.set(bytes, 4);
    this.f64[0] = Date.now();
    Atomics.store(this.i32, 0, 1);
  }

  leave(): void {
    Atomics.store(this.i32, 0, 0);
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}
