/**
 * What bench/pipeline.ts and bench/scale.ts share: the manual dp=D,tp=T,pp=P grid
 * (tp within a host, every power-of-two split of the devices) and the ideal step time.
 */
import type { GptConfig } from '../src/models/gpt.js';

/** Every dp=D,tp=T,pp=P with T and P powers of two, T up to the devices of a host, D*T*P = devices. */
export function gridStrategies(devices: number, perHost: number): string[] {
  const out: string[] = [];
  for (let tp = 1; tp <= perHost; tp *= 2) {
    for (let pp = 1; pp * tp <= devices; pp *= 2) {
      if (devices % (tp * pp) !== 0) continue;
      out.push(`dp=${devices / tp / pp},tp=${tp},pp=${pp}`);
    }
  }
  return out;
}

/**
 * FLOPs of one training step of a GPT: 6 per parameter per token (the usual transformer
 * estimate) plus the attention scores and their use, forward and backward.
 */
export function gptStepFlops(shape: Pick<GptConfig, 'layers' | 'hidden' | 'seq' | 'vocab'>, batch: number): number {
  const tokens = batch * shape.seq;
  const h = shape.hidden;
  const blockParams = 12 * h * h + 13 * h;
  return 6 * tokens * (shape.layers * blockParams + shape.vocab * h) + 12 * shape.layers * batch * shape.seq * shape.seq * h;
}
