/**
 * The simulator against the closed forms of cost-models/pipeline.ts (DESIGN.md's
 * bubble formula and in-flight bound), against hand-computed two-stage timelines, and
 * against an independent recursive evaluation of the same time model.
 */
import { describe, expect, it } from 'vitest';
import { inFlightMicrobatches, pipelineBubbleFraction } from '../cost-models/pipeline.js';
import type { Instruction } from '../passes/schedule/instruction.js';
import { buildSchedule, type Schedule, type ScheduleKind } from '../passes/schedule/schedule.js';
import { simulateSchedule, uniformCosts, type StageCosts } from '../passes/schedule/simulate.js';

const KINDS: readonly ScheduleKind[] = ['gpipe', '1f1b'];

describe('uniform stages, no transfer time, backward = 2 × forward', () => {
  const tf = 0.25;
  const tb = 2 * tf;
  it.each(KINDS)('%s: step (M+S-1)(tf+tb), bubble (S-1)/M of M(tf+tb), for S 1..6, M 1..10', (kind) => {
    for (let s = 1; s <= 6; s++) {
      for (let m = 1; m <= 10; m++) {
        const r = simulateSchedule(buildSchedule(kind, s, m), uniformCosts(s, tf, tb));
        expect(r.stepSeconds).toBeCloseTo((m + s - 1) * (tf + tb), 12);
        expect(r.idealSeconds).toBeCloseTo(m * (tf + tb), 12);
        expect(r.bubbleSeconds / r.idealSeconds).toBeCloseTo(pipelineBubbleFraction(s, m), 12);
        for (const stage of r.stages) {
          expect(stage.busySeconds).toBeCloseTo(m * (tf + tb), 12);
          expect(stage.idleSeconds).toBeCloseTo((s - 1) * (tf + tb), 12);
        }
      }
    }
  });

  it('peak activations held: 1F1B min(S - s, M) on stage s, GPipe M, as the cost model says', () => {
    for (let s = 1; s <= 6; s++) {
      for (let m = 1; m <= 10; m++) {
        for (const kind of KINDS) {
          const peaks = simulateSchedule(buildSchedule(kind, s, m), uniformCosts(s, tf, tb)).stages.map((st) => st.peakInFlight);
          const expected = peaks.map((_, stage) => (kind === 'gpipe' ? m : Math.min(s - stage, m)));
          expect(peaks).toEqual(expected);
          expect(peaks).toEqual(peaks.map((_, stage) => inFlightMicrobatches(kind, s, stage, m)));
        }
      }
    }
  });

  it('the update adds once, after the drain', () => {
    const r = simulateSchedule(buildSchedule('1f1b', 4, 8), uniformCosts(4, 1, 2, 0, 5));
    expect(r.stepSeconds).toBe((8 + 4 - 1) * 3 + 5);
    expect(r.bubbleSeconds).toBe(3 * 3);
  });
});

describe('transfer time, two stages, tf = 1, tb = 2, M = 2 (computed by hand)', () => {
  // GPipe, transfer 0.5: stage 0 F0 [0,1] F1 [1,2], activations arrive 1.5 and 2.5;
  // stage 1 F0 [1.5,2.5] F1 [2.5,3.5] B0 [3.5,5.5] B1 [5.5,7.5], gradients arrive 6 and 8;
  // stage 0 B0 [6,8] B1 [8,10]. One crossing each way: 9 + 2 × 0.5 = 10.
  it.each(KINDS)('%s with transfer 0.5 takes 10 s', (kind) => {
    expect(simulateSchedule(buildSchedule(kind, 2, 2), uniformCosts(2, 1, 2, 0.5)).stepSeconds).toBe(10);
  });

  it('GPipe timeline matches the hand computation instruction by instruction', () => {
    const r = simulateSchedule(buildSchedule('gpipe', 2, 2), uniformCosts(2, 1, 2, 0.5));
    const compute = r.timeline
      .filter((t) => t.instruction.kind === 'forward' || t.instruction.kind === 'backward')
      .map((t) => `${t.stage}:${t.instruction.kind[0]?.toUpperCase()}${'mb' in t.instruction ? t.instruction.mb : ''}@${t.start}-${t.end}`);
    expect(compute).toEqual(['0:F0@0-1', '0:F1@1-2', '1:F0@1.5-2.5', '1:F1@2.5-3.5', '1:B0@3.5-5.5', '1:B1@5.5-7.5', '0:B0@6-8', '0:B1@8-10']);
    expect(r.stages.map((s) => s.busySeconds)).toEqual([6, 6]);
    expect(r.stages.map((s) => s.idleSeconds)).toEqual([4, 4]);
  });

  // Transfer 3 > tf: the link queues. Activation 1 is posted at 2 but the link is busy
  // until 4, so it arrives at 7; stage 1 F0 [4,5] F1 [7,8] B0 [8,10] B1 [10,12];
  // gradient 0 arrives 13, gradient 1 is posted at 12, waits for the link to 13, arrives 16;
  // stage 0 B0 [13,15] B1 [16,18].
  it('GPipe with transfer 3 queues messages on the link: 18 s', () => {
    expect(simulateSchedule(buildSchedule('gpipe', 2, 2), uniformCosts(2, 1, 2, 3)).stepSeconds).toBe(18);
  });
});

/**
 * The same time model written as recursive equations over (stage, index), with sends
 * matched to recvs by counting per channel: no shared code with the simulator.
 */
function referenceStepTime(schedule: Schedule, costs: StageCosts): number {
  const key = (ins: Instruction, stage: number): string | undefined => {
    switch (ins.kind) {
      case 'send-activation':
        return `a${stage}>${ins.to}`;
      case 'recv-activation':
        return `a${ins.from}>${stage}`;
      case 'send-gradient':
        return `g${stage}>${ins.to}`;
      case 'recv-gradient':
        return `g${ins.from}>${stage}`;
      default:
        return undefined;
    }
  };
  // ordinal[s][i]: the k of the k-th message on its channel; sendAt[channel][k] = [stage, index].
  const sendAt = new Map<string, [number, number][]>();
  const ordinal = schedule.programs.map((program, s) => {
    const counts = new Map<string, number>();
    return program.map((ins, i) => {
      const ch = key(ins, s);
      if (ch === undefined) return -1;
      const k = counts.get(ch) ?? 0;
      counts.set(ch, k + 1);
      if (ins.kind.startsWith('send')) sendAt.set(ch, [...(sendAt.get(ch) ?? []), [s, i]]);
      return k;
    });
  });
  const readyMemo = new Map<string, number>();
  const arrivalMemo = new Map<string, number>();
  const num = (x: number | undefined): number => x ?? 0;
  // When stage s is free to start instruction i.
  const ready = (s: number, i: number): number => {
    if (i === 0) return 0;
    const id = `${s}:${i}`;
    const memo = readyMemo.get(id);
    if (memo !== undefined) return memo;
    const ins = schedule.programs[s]?.[i - 1];
    if (ins === undefined) throw new Error('bad index');
    const t = ready(s, i - 1);
    let done: number;
    switch (ins.kind) {
      case 'forward':
        done = t + num(costs.forwardSeconds[s]);
        break;
      case 'backward':
        done = t + num(costs.backwardSeconds[s]);
        break;
      case 'update':
        done = t + num(costs.updateSeconds[s]);
        break;
      case 'recv-activation':
      case 'recv-gradient': {
        const ch = key(ins, s) ?? '';
        const peer = sendAt.get(ch)?.[num(ordinal[s]?.[i - 1])];
        if (peer === undefined) throw new Error('unmatched');
        done = Math.max(t, arrival(peer[0], peer[1]));
        break;
      }
      default:
        done = t;
    }
    readyMemo.set(id, done);
    return done;
  };
  const arrival = (s: number, i: number): number => {
    const id = `${s}:${i}`;
    const memo = arrivalMemo.get(id);
    if (memo !== undefined) return memo;
    const ins = schedule.programs[s]?.[i];
    if (ins === undefined || (ins.kind !== 'send-activation' && ins.kind !== 'send-gradient')) throw new Error('not a send');
    const ch = key(ins, s) ?? '';
    const k = num(ordinal[s]?.[i]);
    const previous = k > 0 ? sendAt.get(ch)?.[k - 1] : undefined;
    const linkFree = previous === undefined ? 0 : arrival(previous[0], previous[1]);
    const transfer = ins.kind === 'send-activation' ? num(costs.activationTransferSeconds[s]) : num(costs.gradientTransferSeconds[ins.to]);
    const t = Math.max(ready(s, i), linkFree) + transfer;
    arrivalMemo.set(id, t);
    return t;
  };
  return Math.max(...schedule.programs.map((p, s) => ready(s, p.length)));
}

/** Small deterministic generator, so failures reproduce. */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

describe('uneven stages and transfers', () => {
  it.each(KINDS)('%s: equals the independent recursive evaluation, and is at least M × the slowest stage', (kind) => {
    const rand = lcg(kind === 'gpipe' ? 7 : 11);
    for (let trial = 0; trial < 200; trial++) {
      const s = 1 + Math.floor(rand() * 6);
      const m = 1 + Math.floor(rand() * 10);
      const pick = (n: number, scale: number): number[] => Array.from({ length: n }, () => Math.round(rand() * scale * 100) / 100);
      const forwardSeconds = pick(s, 2).map((x) => x + 0.01);
      const costs: StageCosts = {
        forwardSeconds,
        backwardSeconds: forwardSeconds.map((f) => f * (1 + rand() * 2)),
        activationTransferSeconds: pick(s - 1, trial % 3 === 0 ? 0 : 1),
        gradientTransferSeconds: pick(s - 1, trial % 3 === 0 ? 0 : 1),
        updateSeconds: pick(s, 0.5),
      };
      const schedule = buildSchedule(kind, s, m);
      const r = simulateSchedule(schedule, costs);
      expect(r.stepSeconds).toBeCloseTo(referenceStepTime(schedule, costs), 9);
      const perStage = costs.forwardSeconds.map((f, i) => f + (costs.backwardSeconds[i] ?? 0));
      expect(r.stepSeconds).toBeGreaterThanOrEqual(m * Math.max(...perStage) - 1e-9);
      // The first micro-batch must go down every stage and back.
      expect(r.stepSeconds).toBeGreaterThanOrEqual(perStage.reduce((a, b) => a + b, 0) - 1e-9);
      expect(r.bubbleSeconds).toBeGreaterThanOrEqual(-1e-9);
    }
  });

  it('a 3× slower middle stage sets the pace: 1F1B step = fill + M × its period', () => {
    // Stages take 1+2, 3+6, 1+2 s; with zero transfer the slow stage runs back to back
    // after its first input arrives at 1 s, and the last gradient then needs 2 s to drain
    // through stage 0: 1 + 4 × 9 + 2 = 39.
    const costs: StageCosts = {
      forwardSeconds: [1, 3, 1],
      backwardSeconds: [2, 6, 2],
      activationTransferSeconds: [0, 0],
      gradientTransferSeconds: [0, 0],
      updateSeconds: [0, 0, 0],
    };
    const schedule = buildSchedule('1f1b', 3, 4);
    const r = simulateSchedule(schedule, costs);
    expect(r.stepSeconds).toBe(39);
    expect(r.stepSeconds).toBe(referenceStepTime(schedule, costs));
    expect(r.stages[1]?.idleSeconds).toBe(3);
  });

  it('timeline lists every instruction once, ordered by start', () => {
    const schedule = buildSchedule('1f1b', 4, 6);
    const r = simulateSchedule(schedule, uniformCosts(4, 1, 2, 0.3, 0.5));
    expect(r.timeline).toHaveLength(schedule.programs.reduce((n, p) => n + p.length, 0));
    for (let i = 1; i < r.timeline.length; i++) expect(r.timeline[i]?.start ?? 0).toBeGreaterThanOrEqual(r.timeline[i - 1]?.start ?? 0);
    for (const t of r.timeline) expect(t.end).toBeGreaterThanOrEqual(t.start);
  });

  it('rejects cost arrays of the wrong length or negative seconds', () => {
    const schedule = buildSchedule('gpipe', 3, 2);
    expect(() => simulateSchedule(schedule, { ...uniformCosts(3, 1, 2), forwardSeconds: [1, 1] })).toThrow(/forwardSeconds has 2 entries, expected 3/);
    expect(() => simulateSchedule(schedule, { ...uniformCosts(3, 1, 2), gradientTransferSeconds: [0, -1] })).toThrow(/gradientTransferSeconds\[1\] must be a finite non-negative/);
  });
});
