/**
 * Static checks on a pipeline schedule, so a hand-edited or newly generated schedule
 * fails here with a message naming the stage and instruction, not as a hang or a
 * wrong gradient at run time. Checks, in order (the first failure throws):
 *  1. shape: one program per stage, micro-batches in range, peers are the neighbours
 *     activations and gradients actually flow to;
 *  2. matching: on each channel the sender's sends and the receiver's recvs pair up
 *     one to one, in order, with the same micro-batch (channels are FIFO, see
 *     execute.ts);
 *  3. local order on each stage: each forward and backward exactly once, a
 *     micro-batch's recv before its compute before its send, forward before backward,
 *     accumulate once after backward, update exactly once and last;
 *  4. no deadlock, running the programs with unbounded-buffer sends and blocking recvs.
 */
import { AutoparError } from '../../src/errors.js';
import { describeInstruction, type Instruction, type RecvInstruction, type SendInstruction } from './instruction.js';
import { execute, recvChannel, sendChannel, type ProgramPoint } from './execute.js';
import type { Schedule } from './schedule.js';

export function verifySchedule(schedule: Schedule): void {
  checkShape(schedule);
  checkMatching(schedule);
  schedule.programs.forEach((program, stage) => checkLocalOrder(schedule, stage, program));
  checkNoDeadlock(schedule);
}

function where(schedule: Schedule, stage: number, index: number): string {
  const ins = schedule.programs[stage]?.[index];
  const what = ins === undefined ? 'end of program' : describeInstruction(ins);
  return `schedule ${schedule.kind} S=${schedule.stages} M=${schedule.microbatches}: stage ${stage}, instruction #${index} ${what}`;
}

function fail(schedule: Schedule, stage: number, index: number, problem: string): never {
  throw new AutoparError('E_INTERNAL', `${where(schedule, stage, index)}: ${problem}`);
}

function checkShape(schedule: Schedule): void {
  const { stages, microbatches } = schedule;
  if (schedule.programs.length !== stages) {
    throw new AutoparError('E_INTERNAL', `schedule ${schedule.kind}: ${schedule.programs.length} programs for ${stages} stages`);
  }
  schedule.programs.forEach((program, stage) => {
    program.forEach((ins, index) => {
      if (ins.kind !== 'update' && !(Number.isInteger(ins.mb) && ins.mb >= 0 && ins.mb < microbatches)) {
        fail(schedule, stage, index, `micro-batch out of range 0..${microbatches - 1}`);
      }
      switch (ins.kind) {
        case 'send-activation':
          if (ins.to !== stage + 1 || ins.to >= stages) fail(schedule, stage, index, `activations go to the next stage (${stage + 1 < stages ? stage + 1 : 'none: this is the last stage'})`);
          break;
        case 'recv-activation':
          if (ins.from !== stage - 1 || ins.from < 0) fail(schedule, stage, index, `activations come from the previous stage (${stage > 0 ? stage - 1 : 'none: this is the first stage'})`);
          break;
        case 'send-gradient':
          if (ins.to !== stage - 1 || ins.to < 0) fail(schedule, stage, index, `gradients go to the previous stage (${stage > 0 ? stage - 1 : 'none: this is the first stage'})`);
          break;
        case 'recv-gradient':
          if (ins.from !== stage + 1 || ins.from >= stages) fail(schedule, stage, index, `gradients come from the next stage (${stage + 1 < stages ? stage + 1 : 'none: this is the last stage'})`);
          break;
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
    });
  });
}

interface Posted<T> {
  readonly at: ProgramPoint;
  readonly ins: T;
}

function checkMatching(schedule: Schedule): void {
  const sends = new Map<string, Posted<SendInstruction>[]>();
  const recvs = new Map<string, Posted<RecvInstruction>[]>();
  const push = <T>(map: Map<string, Posted<T>[]>, key: string, item: Posted<T>): void => {
    const list = map.get(key) ?? [];
    list.push(item);
    map.set(key, list);
  };
  schedule.programs.forEach((program, stage) => {
    program.forEach((ins, index) => {
      const at = { stage, index };
      if (ins.kind === 'send-activation' || ins.kind === 'send-gradient') push(sends, sendChannel(stage, ins), { at, ins });
      if (ins.kind === 'recv-activation' || ins.kind === 'recv-gradient') push(recvs, recvChannel(stage, ins), { at, ins });
    });
  });
  const keys = [...new Set([...sends.keys(), ...recvs.keys()])].sort();
  // Pair by micro-batch first, so a dropped or extra message is named as such rather
  // than as the order mismatch it causes further down the channel.
  // Messages per micro-batch on each end, counted once (a channel of 1,024 micro-batches
  // compared pairwise took most of a second).
  const perMb = <T extends { readonly mb: number }>(list: readonly Posted<T>[]): Map<number, number> => {
    const counts = new Map<number, number>();
    for (const { ins } of list) counts.set(ins.mb, (counts.get(ins.mb) ?? 0) + 1);
    return counts;
  };
  for (const key of keys) {
    const out = sends.get(key) ?? [];
    const into = recvs.get(key) ?? [];
    const [sent, received] = [perMb(out), perMb(into)];
    for (const send of out) {
      const partners = received.get(send.ins.mb) ?? 0;
      const twins = sent.get(send.ins.mb) ?? 0;
      if (partners !== twins) {
        const peerKind = send.ins.kind === 'send-activation' ? 'recv-activation' : 'recv-gradient';
        fail(schedule, send.at.stage, send.at.index, `${twins} send(s) of mb ${send.ins.mb} but ${partners} matching ${peerKind}(mb ${send.ins.mb}) on stage ${send.ins.to}`);
      }
    }
    for (const recv of into) {
      if (!sent.has(recv.ins.mb)) {
        const peerKind = recv.ins.kind === 'recv-activation' ? 'send-activation' : 'send-gradient';
        fail(schedule, recv.at.stage, recv.at.index, `no matching ${peerKind}(mb ${recv.ins.mb}) on stage ${recv.ins.from}`);
      }
    }
  }
  // Same multiset on both ends; FIFO channels also need the same order.
  for (const key of keys) {
    const out = sends.get(key) ?? [];
    (recvs.get(key) ?? []).forEach((recv, k) => {
      const send = out[k];
      if (send !== undefined && send.ins.mb !== recv.ins.mb) {
        fail(
          schedule,
          recv.at.stage,
          recv.at.index,
          `receive ${k + 1} on this channel expects mb ${recv.ins.mb} but send ${k + 1} from stage ${send.at.stage} (instruction #${send.at.index}) carries mb ${send.ins.mb}; channels are FIFO, so sends and recvs must come in the same micro-batch order`,
        );
      }
    });
  }
}

function checkLocalOrder(schedule: Schedule, stage: number, program: readonly Instruction[]): void {
  const { stages, microbatches } = schedule;
  const isFirst = stage === 0;
  const isLast = stage === stages - 1;
  const seen = new Set<string>();
  const has = (kind: string, mb: number): boolean => seen.has(`${kind}:${mb}`);
  let updated = false;
  program.forEach((ins, index) => {
    const bad = (problem: string): never => fail(schedule, stage, index, problem);
    if (updated) bad('instruction after the update; the update must be the last step');
    if (ins.kind === 'update') {
      for (let mb = 0; mb < microbatches; mb++) if (!has('accumulate', mb)) bad(`update before accumulate(mb ${mb})`);
      updated = true;
      return;
    }
    if (has(ins.kind, ins.mb)) bad('duplicate: each micro-batch does this once per stage');
    switch (ins.kind) {
      case 'recv-activation':
        break;
      case 'forward':
        if (!isFirst && !has('recv-activation', ins.mb)) bad(`forward before its input arrives (recv-activation(mb ${ins.mb}))`);
        break;
      case 'send-activation':
        if (!has('forward', ins.mb)) bad(`send before forward(mb ${ins.mb}) computed the activation`);
        break;
      case 'recv-gradient':
        break;
      case 'backward':
        if (!has('forward', ins.mb)) bad(`backward before forward(mb ${ins.mb})`);
        if (!isLast && !has('recv-gradient', ins.mb)) bad(`backward before its output gradient arrives (recv-gradient(mb ${ins.mb}))`);
        break;
      case 'send-gradient':
        if (!has('backward', ins.mb)) bad(`send before backward(mb ${ins.mb}) computed the gradient`);
        break;
      case 'accumulate':
        if (!has('backward', ins.mb)) bad(`accumulate before backward(mb ${ins.mb})`);
        break;
      default: {
        const _: never = ins;
        return _;
      }
    }
    seen.add(`${ins.kind}:${ins.mb}`);
  });
  // What every stage must do per micro-batch; missing steps are reported at the end.
  const required: Instruction['kind'][] = ['forward', 'backward', 'accumulate'];
  if (!isFirst) required.push('recv-activation', 'send-gradient');
  if (!isLast) required.push('send-activation', 'recv-gradient');
  for (let mb = 0; mb < microbatches; mb++) {
    for (const kind of required) if (!has(kind, mb)) fail(schedule, stage, program.length, `missing ${kind}(mb ${mb})`);
  }
  if (!updated) fail(schedule, stage, program.length, 'missing update');
}

function checkNoDeadlock(schedule: Schedule): void {
  const { stuck } = execute(schedule, { visit: () => undefined });
  const first = stuck[0];
  if (first === undefined) return;
  const others = stuck.slice(1).map((p) => `stage ${p.stage} at #${p.index}`);
  fail(schedule, first.stage, first.index, `deadlock: blocked in this receive${others.length > 0 ? `, as are ${others.join(', ')}` : ''}`);
}
