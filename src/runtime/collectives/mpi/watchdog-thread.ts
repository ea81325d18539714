/** The watchdog's thread (see watchdog.ts): polls the shared call record, kills the process past the deadline. */
import fs from 'node:fs';
import { workerData } from 'node:worker_threads';
import { ERROR_MARK, LABEL_BYTES, type WatchState } from './watchdog.js';

const state = workerData as WatchState;
const i32 = new Int32Array(state.buffer, 0, 2);
const f64 = new Float64Array(state.buffer, 8, 1);
const text = new Uint8Array(state.buffer, 16, LABEL_BYTES);

setInterval(() => {
  if (Atomics.load(i32, 0) !== 1) return;
  const waited = Date.now() - f64[0]!;
  if (waited <= state.timeoutMs) return;
  const n = new DataView(text.buffer, text.byteOffset).getInt32(0, true);
  const [kind, label] = new TextDecoder().decode(text.slice(4, 4 + n)).split('\n');
  const message = `rank ${state.rank}: ${kind} '${label}': timed out after ${(state.timeoutMs / 1000).toFixed(1)} s (a member of its group never joined, or is stuck)`;
  fs.writeSync(2, `${ERROR_MARK}${JSON.stringify({ rank: state.rank, kind, label, message })}\n`);
  process.kill(process.pid, 'SIGKILL');
}, 100);
