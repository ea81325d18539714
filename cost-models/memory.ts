/**
 * Memory per device: model states (parameters, gradients, optimizer states) with ZeRO
 * partitioning, and the peak of buffers over a step from their lifetimes.
 *
 * Bytes per parameter (Rajbhandari et al. 2020, "ZeRO", section 3.1):
 *   fp32:   parameters 4, gradients 4, optimizer K = 0 (SGD), 4 (momentum), 8 (Adam: m, v)
 *   mixed:  parameters 2, gradients 2 (fp16/bf16), optimizer K = 4 (fp32 master copy)
 *           + 0 / 4 / 8, so Adam has K = 12 and the total is 16 bytes per parameter.
 * ZeRO over N data-parallel ranks: stage 1 divides the optimizer states by N, stage 2
 * also the gradients, stage 3 also the parameters.
 */

export type Optimizer = 'sgd' | 'momentum' | 'adam';
export type TrainingPrecision = 'fp32' | 'mixed';
export type ZeroStage = 0 | 1 | 2 | 3;

export interface ModelStateSpec {
  /** Parameters held by this device before ZeRO (after any tensor/pipeline split). */
  readonly parameters: number;
  readonly optimizer: Optimizer;
  readonly precision: TrainingPrecision;
  /** Data-parallel ranks sharing the states under ZeRO (default 1). */
  readonly dataParallel?: number;
  readonly zeroStage?: ZeroStage;
}

export interface ModelStateBytes {
  readonly parameters: number;
  readonly gradients: number;
  readonly optimizerStates: number;
  readonly total: number;
}

export interface BytesPerParameter {
  readonly parameters: number;
  readonly gradients: number;
  readonly optimizerStates: number;
}

export function bytesPerParameter(optimizer: Optimizer, precision: TrainingPrecision): BytesPerParameter {
  const fp32States = ((): number => {
    switch (optimizer) {
      case 'sgd':
        return 0;
      case 'momentum':
        return 4;
      case 'adam':
        return 8;
      default: {
        const never: never = optimizer;
        return never;
      }
    }
  })();
  switch (precision) {
    case 'fp32':
      return { parameters: 4, gradients: 4, optimizerStates: fp32States };
    case 'mixed':
      return { parameters: 2, gradients: 2, optimizerStates: 4 + fp32States };
    default: {
      const never: never = precision;
      return never;
    }
  }
}

export function modelStateBytes(spec: ModelStateSpec): ModelStateBytes {
  const n = spec.dataParallel ?? 1;
  const stage = spec.zeroStage ?? 0;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`dataParallel must be a positive integer, got ${n}`);
  if (!(spec.parameters >= 0)) throw new RangeError(`parameters must be >= 0, got ${spec.parameters}`);
  const per = bytesPerParameter(spec.optimizer, spec.precision);
  const psi = spec.parameters;
  const optimizerStates = (per.optimizerStates * psi) / (stage >= 1 ? n : 1);
  const gradients = (per.gradients * psi) / (stage >= 2 ? n : 1);
  const parameters = (per.parameters * psi) / (stage >= 3 ? n : 1);
  return { parameters, gradients, optimizerStates, total: parameters + gradients + optimizerStates };
}

/** A buffer alive from step `firstUse` to step `lastUse`, both inclusive, in a step order. */
export interface BufferLife {
  readonly bytes: number;
  readonly firstUse: number;
  readonly lastUse: number;
}

export interface PeakMemory {
  readonly peakBytes: number;
  /** The first step at which the peak is reached (undefined with no buffers). */
  readonly step: number | undefined;
}

/** Peak of the sum of live buffers: a sweep over allocation and free events. */
export function peakMemory(buffers: readonly BufferLife[]): PeakMemory {
  const events: { time: number; delta: number }[] = [];
  for (const b of buffers) {
    if (!(b.bytes >= 0) || !(b.firstUse <= b.lastUse)) {
      throw new RangeError(`buffer needs bytes >= 0 and firstUse <= lastUse, got ${JSON.stringify(b)}`);
    }
    events.push({ time: b.firstUse, delta: b.bytes }, { time: b.lastUse, delta: -b.bytes });
  }
  // At one step, allocate before freeing: a buffer last used at t is still alive while t runs.
  events.sort((a, b) => a.time - b.time || (a.delta >= 0 ? 0 : 1) - (b.delta >= 0 ? 0 : 1));
  let live = 0;
  let peakBytes = 0;
  let step: number | undefined;
  for (const e of events) {
    live += e.delta;
    if (live > peakBytes) {
      peakBytes = live;
      step = e.time;
    }
  }
  return { peakBytes, step };
}
