/** What the threads launcher and its workers send each other. */
import type { CollectiveCounts } from '../communicator.js';
import type { SharedInit } from './shared-state.js';

/** workerData of every worker. */
export interface WorkerSetup {
  readonly rank: number;
  readonly shared: SharedInit;
  readonly timeoutMs: number;
  /** file: URL of the module holding the program. */
  readonly moduleUrl: string;
  readonly exportName: string;
  readonly args: unknown;
  readonly kernels: 'wasm' | 'js';
}

export type WorkerMessage =
  | { type: 'done'; rank: number; result: unknown; counts: CollectiveCounts }
  | { type: 'error'; rank: number; message: string; stack: string; label: string | undefined; counts: CollectiveCounts; culprit?: number };
