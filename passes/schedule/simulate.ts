/**
 * Discrete-event simulation of one training step under a schedule, to check the
 * closed forms in cost-models/pipeline.ts and to draw the timeline later.
 *
 * Time model (each stage is one device running its program in order):
 *  - forward, backward and update occupy the stage for their given seconds;
 *    accumulate takes none, since the per-stage backward time already includes
 *    writing the weight gradients (accumulation is a fused add into them);
 *  - a send does not occupy the stage (it runs on a communication stream): the
 *    message leaves when both it is posted and the link is free, arrives transfer
 *    seconds later, and the link is busy meanwhile (one link per boundary and
 *    direction, so back-to-back messages queue);
 *  - a recv waits until its message has arrived; that wait is idle time.
 * Events are instruction completions. Because a stage's only outside dependency is a
 * recv's matched send, and each link has one sender, evaluating stages in the causal
 * order execute.ts yields gives the same times as a global event queue would.
 */
import { AutoparError } from '../../src/errors.js';
import type { Instruction } from './instruction.js';
import { execute, sendChannel } from './execute.js';
import type { Schedule } from './schedule.js';
import { verifySchedule } from './verify.js';

export interface StageCosts {
  /** Seconds of one micro-batch's forward on each stage (length S). */
  readonly forwardSeconds: readonly number[];
  /** Seconds of one micro-batch's backward on each stage (length S). */
  readonly backwardSeconds: readonly number[];
  /** Seconds to move one micro-batch's activation across boundary b (stage b to b + 1; length S - 1). */
  readonly activationTransferSeconds: readonly number[];
  /** Seconds to move one micro-batch's gradient across boundary b (stage b + 1 to b; length S - 1). */
  readonly gradientTransferSeconds: readonly number[];
  /** Seconds of the optimizer update on each stage (length S). */
  readonly updateSeconds: readonly number[];
}

export interface TimedInstruction {
  readonly stage: number;
  readonly index: number;
  readonly instruction: Instruction;
  /** For a send, when the transfer starts on the link; for a recv, when the stage starts waiting. */
  readonly start: number;
  /** For a send, when the message arrives at the peer. */
  readonly end: number;
}

export interface StageStats {
  /** Seconds spent in forward, backward and update. */
  readonly busySeconds: number;
  /** stepSeconds - busySeconds: waiting in recvs and after finishing early. */
  readonly idleSeconds: number;
  /** When the stage's last instruction ends. */
  readonly finishSeconds: number;
  /** Most micro-batches whose activations the stage held at once (forward done, backward not). */
  readonly peakInFlight: number;
}

export interface SimulationResult {
  /** The makespan: when the last stage finishes its update. */
  readonly stepSeconds: number;
  /** The busiest stage's busy time: the step time with no fill, drain or waiting. */
  readonly idealSeconds: number;
  /** stepSeconds - idealSeconds. */
  readonly bubbleSeconds: number;
  readonly stages: readonly StageStats[];
  /** Every instruction, ordered by start time, then stage, then index. */
  readonly timeline: readonly TimedInstruction[];
}

/** Schedules already verified: the pipeline planner simulates one schedule for several plans (verifying 16 stages x 1,024 micro-batches takes 0.14 s). */
const verified = new WeakSet<Schedule>();

export function simulateSchedule(schedule: Schedule, costs: StageCosts): SimulationResult {
  if (!verified.has(schedule)) {
    verifySchedule(schedule);
    verified.add(schedule);
  }
  checkCosts(schedule.stages, costs);
  const at = (list: readonly number[], i: number): number => list[i] ?? 0;
  const clock = schedule.programs.map(() => 0);
  const busy = schedule.programs.map(() => 0);
  const held = schedule.programs.map(() => 0);
  const peak = schedule.programs.map(() => 0);
  const linkFree = new Map<string, number>();
  // Arrival time of each send, keyed by stage and index, for the recv that takes it.
  const arrivals = new Map<string, number>();
  const timeline: TimedInstruction[] = [];

  execute(schedule, {
    visit({ stage, index }, ins, matchedSend) {
      const now = at(clock, stage);
      let start = now;
      let end = now;
      const occupy = (seconds: number): void => {
        end = now + seconds;
        busy[stage] = at(busy, stage) + seconds;
        clock[stage] = end;
      };
      switch (ins.kind) {
        case 'forward':
          occupy(at(costs.forwardSeconds, stage));
          held[stage] = at(held, stage) + 1;
          peak[stage] = Math.max(at(peak, stage), at(held, stage));
          break;
        case 'backward':
          occupy(at(costs.backwardSeconds, stage));
          held[stage] = at(held, stage) - 1;
          break;
        case 'update':
          occupy(at(costs.updateSeconds, stage));
          break;
        case 'accumulate':
          break;
        case 'send-activation':
        case 'send-gradient': {
          const key = sendChannel(stage, ins);
          const transfer =
            ins.kind === 'send-activation' ? at(costs.activationTransferSeconds, stage) : at(costs.gradientTransferSeconds, ins.to);
          start = Math.max(now, linkFree.get(key) ?? 0);
          end = start + transfer;
          linkFree.set(key, end);
          arrivals.set(`${stage}:${index}`, end);
          break;
        }
        case 'recv-activation':
        case 'recv-gradient': {
          const arrival = matchedSend === undefined ? undefined : arrivals.get(`${matchedSend.stage}:${matchedSend.index}`);
          if (arrival === undefined) throw new AutoparError('E_INTERNAL', `simulate: stage ${stage} #${index} received before its send was timed`);
          end = Math.max(now, arrival);
          clock[stage] = end;
          break;
        }
        default: {
          const _: never = ins;
          return _;
        }
      }
      timeline.push({ stage, index, instruction: ins, start, end });
    },
  });

  const stepSeconds = Math.max(...clock);
  const idealSeconds = Math.max(...busy);
  timeline.sort((a, b) => a.start - b.start || a.stage - b.stage || a.index - b.index);
  return {
    stepSeconds,
    idealSeconds,
    bubbleSeconds: stepSeconds - idealSeconds,
    stages: clock.map((finish, s) => ({
      busySeconds: at(busy, s),
      idleSeconds: stepSeconds - at(busy, s),
      finishSeconds: finish,
      peakInFlight: at(peak, s),
    })),
    timeline,
  };
}

/** Costs with every stage alike: handy for tests and for the closed-form comparison. */
export function uniformCosts(
  stages: number,
  forwardSeconds: number,
  backwardSeconds: number,
  transferSeconds = 0,
  updateSeconds = 0,
): StageCosts {
  const perStage = (x: number): number[] => Array.from({ length: stages }, () => x);
  const perBoundary = (x: number): number[] => Array.from({ length: stages - 1 }, () => x);
  return {
    forwardSeconds: perStage(forwardSeconds),
    backwardSeconds: perStage(backwardSeconds),
    activationTransferSeconds: perBoundary(transferSeconds),
    gradientTransferSeconds: perBoundary(transferSeconds),
    updateSeconds: perStage(updateSeconds),
  };
}

function checkCosts(stages: number, costs: StageCosts): void {
  const lists: [string, readonly number[], number][] = [
    ['forwardSeconds', costs.forwardSeconds, stages],
    ['backwardSeconds', costs.backwardSeconds, stages],
    ['activationTransferSeconds', costs.activationTransferSeconds, stages - 1],
    ['gradientTransferSeconds', costs.gradientTransferSeconds, stages - 1],
    ['updateSeconds', costs.updateSeconds, stages],
  ];
  for (const [name, list, length] of lists) {
    if (list.length !== length) throw new AutoparError('E_INTERNAL', `simulate: ${name} has ${list.length} entries, expected ${length} for ${stages} stages`);
    list.forEach((x, i) => {
      if (!Number.isFinite(x) || x < 0) throw new AutoparError('E_INTERNAL', `simulate: ${name}[${i}] must be a finite non-negative number of seconds, got ${x}`);
    });
  }
}
