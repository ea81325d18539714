/**
 * The pipeline timeline the report draws: the planner's schedule (passes/schedule/)
 * replayed with the stage costs plan.json keeps, so the bars are the simulation the step
 * time came from, micro-batch by micro-batch. A single-stage plan is one stage running
 * one micro-batch's forward, backward and update.
 */
import { buildSchedule, type ScheduleKind } from '../../passes/schedule/schedule.js';
import { simulateSchedule, type StageCosts } from '../../passes/schedule/simulate.js';
import type { PlanJson } from '../planner/plan-json.js';

export type BarKind = 'forward' | 'backward' | 'update';

export interface Bar {
  readonly stage: number;
  /** Micro-batch; undefined for the update. */
  readonly mb: number | undefined;
  readonly kind: BarKind;
  readonly start: number;
  readonly end: number;
}

export interface Timeline {
  readonly kind: ScheduleKind;
  readonly stages: number;
  readonly microbatches: number;
  readonly bars: readonly Bar[];
  /** When the last stage finishes: the simulated step. */
  readonly stepSeconds: number;
  readonly bubbleSeconds: number;
}

/** undefined when plan.json has no stage costs (written by an older version). */
export function planTimeline(plan: PlanJson): Timeline | undefined {
  const costs: StageCosts | undefined = plan.schedule.stageCosts;
  if (!costs) return undefined;
  const stages = costs.forwardSeconds.length;
  const m = Math.max(1, plan.schedule.microbatches);
  // 'none' is one stage and one micro-batch, where every schedule is the same.
  const kind: ScheduleKind = plan.schedule.kind === 'gpipe' ? 'gpipe' : '1f1b';
  const sim = simulateSchedule(buildSchedule(kind, stages, m), costs);
  const bars: Bar[] = [];
  for (const t of sim.timeline) {
    const ins = t.instruction;
    switch (ins.kind) {
      case 'forward':
      case 'backward':
        // An inference plan has no backward pass: its zero-length bars are not drawn.
        if (ins.kind === 'backward' && plan.mode === 'infer') break;
        bars.push({ stage: t.stage, mb: ins.mb, kind: ins.kind, start: t.start, end: t.end });
        break;
      case 'update':
        if (plan.mode === 'train') bars.push({ stage: t.stage, mb: undefined, kind: 'update', start: t.start, end: t.end });
        break;
      case 'accumulate':
      case 'send-activation':
      case 'send-gradient':
      case 'recv-activation':
      case 'recv-gradient':
        break;
      default: {
        const _: never = ins;
        return _;
      }
    }
  }
  return { kind, stages, microbatches: m, bars, stepSeconds: sim.stepSeconds, bubbleSeconds: sim.bubbleSeconds };
}
