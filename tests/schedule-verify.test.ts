/** Corrupted schedules fail verification with a message naming stage, instruction and problem. */
import { describe, expect, it } from 'vitest';
import { AutoparError } from '../src/errors.js';
import type { Instruction } from '../passes/schedule/instruction.js';
import { buildSchedule, type Schedule } from '../passes/schedule/schedule.js';
import { verifySchedule } from '../passes/schedule/verify.js';

/** A copy of `schedule` with stage `stage`'s program replaced by `edit` of it. */
function editStage(schedule: Schedule, stage: number, edit: (program: Instruction[]) => Instruction[]): Schedule {
  return { ...schedule, programs: schedule.programs.map((p, s) => (s === stage ? edit([...p]) : p)) };
}

function indexOf(program: readonly Instruction[], text: Partial<Instruction>): number {
  const i = program.findIndex((ins) => Object.entries(text).every(([k, v]) => (ins as Record<string, unknown>)[k] === v));
  if (i < 0) throw new Error(`no instruction like ${JSON.stringify(text)}`);
  return i;
}

function verifyError(schedule: Schedule): AutoparError {
  try {
    verifySchedule(schedule);
  } catch (e) {
    if (e instanceof AutoparError) return e;
    throw e;
  }
  throw new Error('expected verification to fail');
}

describe('verifySchedule rejects', () => {
  it('a dropped recv: the send is named as unmatched', () => {
    const good = buildSchedule('1f1b', 3, 4);
    const bad = editStage(good, 1, (p) => p.filter((_, i) => i !== indexOf(p, { kind: 'recv-activation', mb: 2 })));
    const sendAt = indexOf(good.programs[0] ?? [], { kind: 'send-activation', mb: 2 });
    const e = verifyError(bad);
    expect(e.code).toBe('E_INTERNAL');
    expect(e.message).toBe(
      `schedule 1f1b S=3 M=4: stage 0, instruction #${sendAt} send-activation(mb 2, to 1): 1 send(s) of mb 2 but 0 matching recv-activation(mb 2) on stage 1`,
    );
  });

  it('a dropped send: the recv is named as unmatched', () => {
    const good = buildSchedule('1f1b', 3, 4);
    const bad = editStage(good, 0, (p) => p.filter((_, i) => i !== indexOf(p, { kind: 'send-activation', mb: 2 })));
    const recvAt = indexOf(good.programs[1] ?? [], { kind: 'recv-activation', mb: 2 });
    expect(verifyError(bad).message).toBe(`schedule 1f1b S=3 M=4: stage 1, instruction #${recvAt} recv-activation(mb 2, from 0): no matching send-activation(mb 2) on stage 0`);
  });

  it('a duplicated send: the count of each micro-batch is compared, not only its presence', () => {
    const good = buildSchedule('1f1b', 3, 4);
    const bad = editStage(good, 0, (p) => {
      const at = indexOf(p, { kind: 'send-activation', mb: 1 });
      return [...p.slice(0, at + 1), p[at] as Instruction, ...p.slice(at + 1)];
    });
    const sendAt = indexOf(good.programs[0] ?? [], { kind: 'send-activation', mb: 1 });
    expect(verifyError(bad).message).toBe(`schedule 1f1b S=3 M=4: stage 0, instruction #${sendAt} send-activation(mb 1, to 1): 2 send(s) of mb 1 but 1 matching recv-activation(mb 1) on stage 1`);
  });

  it('two swapped sends: the FIFO mismatch is named at the recv', () => {
    const good = buildSchedule('gpipe', 2, 3);
    const bad = editStage(good, 0, (p) => {
      const a = indexOf(p, { kind: 'send-activation', mb: 0 });
      const b = indexOf(p, { kind: 'send-activation', mb: 1 });
      const [x, y] = [p[a], p[b]];
      if (x === undefined || y === undefined) throw new Error('unreachable');
      p[a] = y;
      p[b] = x;
      return p;
    });
    const e = verifyError(bad);
    expect(e.message).toMatch(/^schedule gpipe S=2 M=3: stage 1, instruction #0 recv-activation\(mb 0, from 0\): receive 1 on this channel expects mb 0 but send 1 from stage 0 \(instruction #1\) carries mb 1/);
  });

  it('a recv moved before the send its peer waits for: deadlock', () => {
    // Stage 0 waits for gradient 0 before sending activation 0; stage 1 waits for that activation.
    const bad = editStage(buildSchedule('1f1b', 2, 2), 0, (p) => {
      const recv = p.splice(indexOf(p, { kind: 'recv-gradient', mb: 0 }), 1);
      p.splice(indexOf(p, { kind: 'send-activation', mb: 0 }), 0, ...recv);
      return p;
    });
    expect(verifyError(bad).message).toBe(
      'schedule 1f1b S=2 M=2: stage 0, instruction #1 recv-gradient(mb 0, from 1): deadlock: blocked in this receive, as are stage 1 at #0',
    );
  });

  it('backward before forward on a stage', () => {
    const bad = editStage(buildSchedule('gpipe', 1, 2), 0, () => [
      { kind: 'backward', mb: 0 },
      { kind: 'forward', mb: 0 },
      { kind: 'forward', mb: 1 },
      { kind: 'backward', mb: 1 },
      { kind: 'accumulate', mb: 0 },
      { kind: 'accumulate', mb: 1 },
      { kind: 'update' },
    ]);
    expect(verifyError(bad).message).toBe('schedule gpipe S=1 M=2: stage 0, instruction #0 backward(mb 0): backward before forward(mb 0)');
  });

  it('a duplicated forward and a missing one', () => {
    const dup = editStage(buildSchedule('gpipe', 1, 2), 0, (p) => [p[0] ?? { kind: 'update' }, ...p]);
    expect(verifyError(dup).message).toMatch(/stage 0, instruction #1 forward\(mb 0\): duplicate/);
    const missing = editStage(buildSchedule('gpipe', 1, 2), 0, (p) => p.filter((ins) => !(ins.kind === 'forward' && ins.mb === 1)));
    expect(verifyError(missing).message).toMatch(/stage 0, instruction #\d+ backward\(mb 1\): backward before forward\(mb 1\)/);
  });

  it('a missing update, and work after the update', () => {
    const none = editStage(buildSchedule('gpipe', 1, 1), 0, (p) => p.filter((ins) => ins.kind !== 'update'));
    expect(verifyError(none).message).toBe('schedule gpipe S=1 M=1: stage 0, instruction #3 end of program: missing update');
    const late = editStage(buildSchedule('gpipe', 1, 1), 0, (p) => [...p, { kind: 'accumulate', mb: 0 }]);
    expect(verifyError(late).message).toMatch(/instruction #4 accumulate\(mb 0\): instruction after the update/);
  });

  it('a send to a stage that is not the neighbour', () => {
    const bad = editStage(buildSchedule('gpipe', 3, 1), 0, (p) => p.map((ins) => (ins.kind === 'send-activation' ? { ...ins, to: 2 } : ins)));
    expect(verifyError(bad).message).toMatch(/stage 0, instruction #1 send-activation\(mb 0, to 2\): activations go to the next stage \(1\)/);
  });

  it('a micro-batch out of range', () => {
    const bad = editStage(buildSchedule('gpipe', 1, 1), 0, (p) => [...p.slice(0, -1), { kind: 'forward', mb: 1 }, { kind: 'update' }]);
    expect(verifyError(bad).message).toMatch(/instruction #3 forward\(mb 1\): micro-batch out of range 0..0/);
  });
});
