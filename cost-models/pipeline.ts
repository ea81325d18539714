/**
 * Pipeline parallelism (GPipe, Huang et al. 2019; 1F1B, Narayanan et al. 2019/2021):
 * p stages, m micro-batches, stage i taking t_i per micro-batch (forward + backward).
 * Step time Σ t_i + (m-1)·max t_i: the first micro-batch crosses every stage, then one
 * finishes per slowest-stage period. With equal stages that is (m + p - 1)·t, so the
 * bubble is (p-1)·t, a fraction (p-1)/m of the ideal m·t, for GPipe and 1F1B alike;
 * they differ in memory: GPipe keeps all m micro-batches' activations, 1F1B at most
 * p - i on stage i (0-based).
 */

export type PipelineSchedule = 'gpipe' | '1f1b';

/** The bubble as a fraction of the ideal time: (p-1)/m. */
export function pipelineBubbleFraction(stages: number, microbatches: number): number {
  checkCounts(stages, microbatches);
  return (stages - 1) / microbatches;
}

export interface PipelineSpec {
  /** Seconds per micro-batch (forward + backward) of each stage, in order. */
  readonly stageSeconds: readonly number[];
  readonly microbatches: number;
  readonly schedule: PipelineSchedule;
}

export interface PipelineEstimate {
  readonly seconds: number;
  /** m × the slowest stage: the time with no fill and drain. */
  readonly idealSeconds: number;
  readonly bubbleSeconds: number;
  /** Micro-batches whose activations each stage keeps at most. */
  readonly inFlight: readonly number[];
}

export function pipelineTime(spec: PipelineSpec): PipelineEstimate {
  const p = spec.stageSeconds.length;
  const m = spec.microbatches;
  checkCounts(p, m);
  const slowest = Math.max(...spec.stageSeconds);
  const total = spec.stageSeconds.reduce((s, t) => s + t, 0);
  const seconds = total + (m - 1) * slowest;
  const idealSeconds = m * slowest;
  const inFlight = spec.stageSeconds.map((_, i) => inFlightMicrobatches(spec.schedule, p, i, m));
  return { seconds, idealSeconds, bubbleSeconds: seconds - idealSeconds, inFlight };
}

/** Micro-batches of activations stage `stage` (0-based) keeps at once. */
export function inFlightMicrobatches(schedule: PipelineSchedule, stages: number, stage: number, microbatches: number): number {
  checkCounts(stages, microbatches);
  switch (schedule) {
    case 'gpipe':
      return microbatches;
    case '1f1b':
      return Math.min(stages - stage, microbatches);
    default: {
      const never: never = schedule;
      return never;
    }
  }
}

function checkCounts(stages: number, microbatches: number): void {
  if (!Number.isInteger(stages) || stages < 1) throw new RangeError(`stages must be a positive integer, got ${stages}`);
  if (!Number.isInteger(microbatches) || microbatches < 1) throw new RangeError(`microbatches must be a positive integer, got ${microbatches}`);
}
