/**
 * Runs a schedule's programs against each other with message passing, shared by the
 * verifier (does it finish?) and the simulator (when does each step happen?).
 *
 * Channel model: one FIFO channel per (sender, receiver, activation | gradient), with
 * an unbounded buffer. A send never blocks: it posts its message and the stage moves
 * on (as an NCCL isend on a communication stream would). A recv blocks until the
 * channel holds a message and takes the oldest one. So the only way to deadlock is a
 * cycle of stages each waiting in a recv, which is what `stuck` reports.
 */
import type { Instruction, RecvInstruction, SendInstruction } from './instruction.js';
import type { Schedule } from './schedule.js';

export interface ProgramPoint {
  readonly stage: number;
  readonly index: number;
}

export interface Visitor {
  /** Called once per instruction, never before the send a recv takes its message from. */
  visit(at: ProgramPoint, ins: Instruction, matchedSend: ProgramPoint | undefined): void;
}

export interface ExecutionResult {
  /** Stages that stopped before their program's end, each at the recv it waits in. */
  readonly stuck: readonly ProgramPoint[];
}

export function channelKey(from: number, to: number, what: 'activation' | 'gradient'): string {
  return `${what}:${from}>${to}`;
}

export function sendChannel(stage: number, ins: SendInstruction): string {
  return channelKey(stage, ins.to, ins.kind === 'send-activation' ? 'activation' : 'gradient');
}

export function recvChannel(stage: number, ins: RecvInstruction): string {
  return channelKey(ins.from, stage, ins.kind === 'recv-activation' ? 'activation' : 'gradient');
}

/**
 * Advances every stage as far as it can, round after round, until all are done or no
 * stage moves. Any interleaving reaches the same end state because stages only
 * interact through FIFO channels with one writer and one reader each.
 */
export function execute(schedule: Schedule, visitor: Visitor): ExecutionResult {
  const pcs = schedule.programs.map(() => 0);
  const channels = new Map<string, ProgramPoint[]>();
  let moved = true;
  while (moved) {
    moved = false;
    schedule.programs.forEach((program, stage) => {
      for (;;) {
        const index = pcs[stage] ?? 0;
        const ins = program[index];
        if (ins === undefined) return;
        let matched: ProgramPoint | undefined;
        switch (ins.kind) {
          case 'send-activation':
          case 'send-gradient': {
            const key = sendChannel(stage, ins);
            const queue = channels.get(key) ?? [];
            queue.push({ stage, index });
            channels.set(key, queue);
            break;
          }
          case 'recv-activation':
          case 'recv-gradient': {
            matched = channels.get(recvChannel(stage, ins))?.shift();
            if (matched === undefined) return;
            break;
          }
          case 'forward':
          case 'backward':
          case 'accumulate':
          case 'update':
            break;
          default: {
            const _: never = ins;
            return _;
          }
        }
        visitor.visit({ stage, index }, ins, matched);
        pcs[stage] = index + 1;
        moved = true;
      }
    });
  }
  const stuck: ProgramPoint[] = [];
  schedule.programs.forEach((program, stage) => {
    const index = pcs[stage] ?? 0;
    if (index < program.length) stuck.push({ stage, index });
  });
  return { stuck };
}
