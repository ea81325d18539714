/** GPipe and 1F1B as explicit per-stage programs: their text form, and that every size verifies. */
import { describe, expect, it } from 'vitest';
import { buildSchedule, printSchedule, type ScheduleKind } from '../passes/schedule/schedule.js';
import { verifySchedule } from '../passes/schedule/verify.js';

const KINDS: readonly ScheduleKind[] = ['gpipe', '1f1b'];

describe('buildSchedule', () => {
  it('GPipe S=2 M=2: all forwards, then all backwards, then the update', () => {
    expect(printSchedule(buildSchedule('gpipe', 2, 2))).toBe(
      [
        'gpipe S=2 M=2',
        '  0: F0 sA0>1 F1 sA1>1 rG0<1 B0 acc0 rG1<1 B1 acc1 U',
        '  1: rA0<0 F0 rA1<0 F1 B0 sG0>0 acc0 B1 sG1>0 acc1 U',
        '',
      ].join('\n'),
    );
  });

  it('1F1B S=3 M=4: stage s warms up with S-s-1 forwards, then alternates, then drains', () => {
    const text = printSchedule(buildSchedule('1f1b', 3, 4));
    const computeOnly = text
      .split('\n')
      .slice(1, 4)
      .map((line) => line.split(' ').filter((w) => /^[FB]\d+$/.test(w)).join(' '));
    expect(computeOnly).toEqual(['F0 F1 F2 B0 F3 B1 B2 B3', 'F0 F1 B0 F2 B1 F3 B2 B3', 'F0 B0 F1 B1 F2 B2 F3 B3']);
    expect(text.split('\n')[3]).toBe(
      '  2: rA0<1 F0 B0 sG0>1 acc0 rA1<1 F1 B1 sG1>1 acc1 rA2<1 F2 B2 sG2>1 acc2 rA3<1 F3 B3 sG3>1 acc3 U',
    );
  });

  it('one stage needs no communication', () => {
    expect(printSchedule(buildSchedule('1f1b', 1, 2))).toBe('1f1b S=1 M=2\n  0: F0 B0 acc0 F1 B1 acc1 U\n');
  });

  it('is deterministic', () => {
    for (const kind of KINDS) expect(buildSchedule(kind, 4, 7)).toEqual(buildSchedule(kind, 4, 7));
  });

  it.each(KINDS)('%s verifies for S in 1..6 and M in 1..10', (kind) => {
    for (let s = 1; s <= 6; s++) {
      for (let m = 1; m <= 10; m++) {
        const schedule = buildSchedule(kind, s, m);
        expect(schedule.programs).toHaveLength(s);
        expect(() => verifySchedule(schedule)).not.toThrow();
      }
    }
  });

  it('rejects counts that are not positive integers', () => {
    expect(() => buildSchedule('gpipe', 0, 1)).toThrow(/stages must be a positive integer, got 0/);
    expect(() => buildSchedule('1f1b', 2, 1.5)).toThrow(/microbatches must be a positive integer, got 1.5/);
  });
});
