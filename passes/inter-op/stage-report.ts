/** Stage plans in words and numbers: manual grids' ranges, and why a faster plan was rejected for memory. */
import { bytesText } from '../../src/explain/text.js';
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

/** The first stage of `plan` over the limit, in words. */
export function memoryShortfall(plan: StagePlan, microbatches: number, limit: number): string {
  const S = plan.stages.length;
  for (const [i, st] of plan.stages.entries()) {
    const inFlight = Math.min(S - i, microbatches);
    const need = st.option.staticBytes + st.option.activationBytes * inFlight;
    if (need > limit) {
      return `the fastest plan (${S} stage${S > 1 ? 's' : ''}, ${(plan.latency * 1e3).toFixed(1)} ms of pipeline latency) was rejected: its stage ${i} (layers ${st.first}-${st.last} on ${st.option.devices} devices) needs ${bytesText(need)} per device (${bytesText(st.option.staticBytes)} of parameters, gradients and optimizer state + ${inFlight} micro-batch${inFlight > 1 ? 'es' : ''} in flight x ${bytesText(st.option.activationBytes)} of activations) and a device has ${bytesText(limit)}`;
    }
  }
  return `the fastest plan needs more memory than a device has (${bytesText(limit)})`;
}

/**
 * Why no micro-batch count gave a plan, every count's reason once: counts with the same
 * reason share it ("M=8, 16: ..."), the rest are listed after, in count order. (Naming
 * one count's reason misled: a grid's dp that cannot split a micro-batch of 1 hid that
 * the smaller counts ran out of memory.)
 */
export function rejectionSummary(rejections: readonly { readonly microbatches: number; readonly reason: string }[]): string {
  const byReason = new Map<string, number[]>();
  for (const r of rejections) {
    const ms = byReason.get(r.reason);
    if (ms) ms.push(r.microbatches);
    else byReason.set(r.reason, [r.microbatches]);
  }
  return [...byReason].map(([reason, ms]) => `M=${ms.join(', ')}: ${reason}`).join('; ');
}
