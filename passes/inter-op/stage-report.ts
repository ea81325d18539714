/** Stage plans in words and numbers: manual grids' ranges, and why a faster plan was rejected for memory. */
import type { StagePlan } from './stage-dp.js';

/** Contiguous ranges of nearly equal layer counts (the first ones one longer). */
export function evenRanges(layers: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  let first = 0;
  for (let i = 0; i < parts; i++) {
    const n = Math.floor(layers / parts) + (i < layers % parts ? 1 : 0);
    out.push([first, first + n - 1]);
    first += n;
  }
  return out;
}

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;

/** The first stage of `plan` over the limit, in words. */
export function memoryShortfall(plan: StagePlan, microbatches: number, limit: number): string {
  const S = plan.stages.length;
  for (const [i, st] of plan.stages.entries()) {
    const inFlight = Math.min(S - i, microbatches);
    const need = st.option.staticBytes + st.option.activationBytes * inFlight;
    if (need > limit) {
      return `the fastest plan (${S} stage${S > 1 ? 's' : ''}, ${(plan.latency * 1e3).toFixed(1)} ms of pipeline latency) was rejected: its stage ${i} (layers ${st.first}-${st.last} on ${st.option.devices} devices) needs ${gib(need)} per device (${gib(st.option.staticBytes)} of parameters, gradients and optimizer state + ${inFlight} micro-batch${inFlight > 1 ? 'es' : ''} in flight x ${gib(st.option.activationBytes)} of activations) and a device has ${gib(limit)}`;
    }
  }
  return `the fastest plan needs more memory than a device has (${gib(limit)})`;
}
