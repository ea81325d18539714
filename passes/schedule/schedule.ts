/**
 * Explicit pipeline schedules: for S stages and M micro-batches, the ordered program
 * each stage runs in one training step. The closed forms in cost-models/pipeline.ts
 * say how long a schedule takes; these programs are what the runtime executes and
 * what verify.ts and simulate.ts check those closed forms against.
 *
 * GPipe (Huang et al. 2019): every forward, then every backward, so each stage holds
 * all M micro-batches' activations. 1F1B / PipeDream-flush (Narayanan et al. 2021):
 * stage s runs min(S - s - 1, M) warm-up forwards, then alternates one forward and
 * one backward, then drains the remaining backwards; it holds at most min(S - s, M).
 * Both end with a flush: one optimizer update per stage after all accumulations.
 */
import { AutoparError } from '../../src/errors.js';
import { formatInstruction, type Instruction } from './instruction.js';

export type ScheduleKind = 'gpipe' | '1f1b';

export interface Schedule {
  readonly kind: ScheduleKind;
  readonly stages: number;
  readonly microbatches: number;
  /** programs[s] is stage s's instruction list, in execution order. */
  readonly programs: readonly (readonly Instruction[])[];
}

export function buildSchedule(kind: ScheduleKind, stages: number, microbatches: number): Schedule {
  checkCount('stages', stages);
  checkCount('microbatches', microbatches);
  const programs: Instruction[][] = [];
  for (let s = 0; s < stages; s++) {
    const order = computeOrder(kind, stages, s, microbatches);
    const program: Instruction[] = [];
    for (const step of order) {
      if (step.phase === 'forward') program.push(...forwardStep(stages, s, step.mb));
      else program.push(...backwardStep(stages, s, step.mb));
    }
    program.push({ kind: 'update' });
    programs.push(program);
  }
  return { kind, stages, microbatches, programs };
}

interface ComputeStep {
  readonly phase: 'forward' | 'backward';
  readonly mb: number;
}

/** The order of forward and backward passes on one stage; communication is added around them. */
function computeOrder(kind: ScheduleKind, stages: number, stage: number, microbatches: number): ComputeStep[] {
  const steps: ComputeStep[] = [];
  switch (kind) {
    case 'gpipe':
      // Backwards in ascending order, as Megatron's "all forward, all backward" does:
      // micro-batch 0 reaches the last stage first, so its gradient can start first.
      for (let mb = 0; mb < microbatches; mb++) steps.push({ phase: 'forward', mb });
      for (let mb = 0; mb < microbatches; mb++) steps.push({ phase: 'backward', mb });
      return steps;
    case '1f1b': {
      // Warm-up fills the pipe below this stage: the last stage needs none, stage s
      // needs S - s - 1 so the first gradient returns just as its next forward is due.
      const warmup = Math.min(stages - stage - 1, microbatches);
      for (let mb = 0; mb < warmup; mb++) steps.push({ phase: 'forward', mb });
      for (let i = 0; i < microbatches - warmup; i++) {
        steps.push({ phase: 'forward', mb: warmup + i });
        steps.push({ phase: 'backward', mb: i });
      }
      for (let mb = microbatches - warmup; mb < microbatches; mb++) steps.push({ phase: 'backward', mb });
      return steps;
    }
    default: {
      const _: never = kind;
      return _;
    }
  }
}

function forwardStep(stages: number, stage: number, mb: number): Instruction[] {
  const out: Instruction[] = [];
  if (stage > 0) out.push({ kind: 'recv-activation', mb, from: stage - 1 });
  out.push({ kind: 'forward', mb });
  if (stage < stages - 1) out.push({ kind: 'send-activation', mb, to: stage + 1 });
  return out;
}

function backwardStep(stages: number, stage: number, mb: number): Instruction[] {
  const out: Instruction[] = [];
  if (stage < stages - 1) out.push({ kind: 'recv-gradient', mb, from: stage + 1 });
  out.push({ kind: 'backward', mb });
  // The input gradient leaves before accumulation so the previous stage is not kept
  // waiting on work only this stage needs.
  if (stage > 0) out.push({ kind: 'send-gradient', mb, to: stage - 1 });
  out.push({ kind: 'accumulate', mb });
  return out;
}

/** `gpipe S=2 M=2` then one line per stage: `  0: F0 sA0>1 F1 sA1>1 rG0<1 B0 acc0 ... U`. */
export function printSchedule(schedule: Schedule): string {
  const width = String(schedule.stages - 1).length;
  const lines = [`${schedule.kind} S=${schedule.stages} M=${schedule.microbatches}`];
  schedule.programs.forEach((program, s) => {
    lines.push(`  ${String(s).padStart(width)}: ${program.map(formatInstruction).join(' ')}`);
  });
  return lines.join('\n') + '\n';
}

function checkCount(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new AutoparError('E_INTERNAL', `schedule: ${name} must be a positive integer, got ${n}`);
}
