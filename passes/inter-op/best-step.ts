/**
 * The best simulated step one micro-batch search has reached so far, shared by the
 * threads that plan its counts side by side (a SharedArrayBuffer crosses postMessage as
 * the same memory). A count planned later caps its stages by it (see stageCap): a stage
 * slower than the cap makes every plan that holds it slower than the step already found.
 *
 * Whole nanoseconds behind Atomics, so that a reader never sees a half-written value;
 * rounding up only loosens the cap.
 */
export type BestStep = BigInt64Array;

const NONE = -1n;

export function newBestStep(): BestStep {
  const b = new BigInt64Array(new SharedArrayBuffer(8));
  Atomics.store(b, 0, NONE);
  return b;
}

/** The best step in seconds, Infinity before any count has a plan. */
export function bestStepSeconds(b: BestStep): number {
  const ns = Atomics.load(b, 0);
  return ns === NONE ? Infinity : Number(ns) / 1e9;
}

/** Records a count's step when it beats the best so far. */
export function offerStep(b: BestStep, seconds: number): void {
  if (!Number.isFinite(seconds) || seconds < 0) return;
  const ns = BigInt(Math.ceil(seconds * 1e9));
  for (;;) {
    const now = Atomics.load(b, 0);
    if (now !== NONE && now <= ns) return;
    if (Atomics.compareExchange(b, 0, now, ns) === now) return;
  }
}

/**
 * Relative slack of the cap over best / M. Every stage of a 1F1B step works through M
 * forwards and M backwards on its own devices, so a plan with a stage of w seconds per
 * micro-batch steps in at least M·w: a stage above best / M cannot be part of a better
 * plan. The slack covers what the DP's priced stage times may still lose when the chosen
 * layers are solved again exactly (gaps above 1% are re-solved; they are a few percent).
 */
export const STAGE_CAP_SLACK = 1.25;

/** The slowest stage (seconds per micro-batch) a plan at M micro-batches may hold to beat `best`. */
export function stageCap(bestSeconds: number, microbatches: number): number {
  return (bestSeconds * STAGE_CAP_SLACK) / Math.max(1, microbatches);
}
