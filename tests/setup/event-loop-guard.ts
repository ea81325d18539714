/**
 * Reports the longest stretch each test file kept the worker's event loop blocked.
 * vitest's worker must answer RPC within 60 s; a synchronous stretch near that fails the
 * whole run with "Timeout calling onTaskUpdate" on a loaded CI machine, with no file
 * named. This names it, early: long work must yield (await setImmediate) or run in a
 * child process.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, expect } from 'vitest';

const WARN_SECONDS = Number(process.env.AUTOPAR_LOOP_WARN_SECONDS ?? 15);
const histogram = monitorEventLoopDelay({ resolution: 50 });

beforeAll(() => histogram.enable());
afterAll(() => {
  histogram.disable();
  const maxSeconds = histogram.max / 1e9;
  if (maxSeconds > WARN_SECONDS) {
    const file = expect.getState().testPath ?? 'this test file';
    process.stderr.write(`event-loop guard: ${file} blocked its worker for ${maxSeconds.toFixed(1)} s (limit 60 s)\n`);
  }
});
