/**
 * The step lower bound of a 1F1B schedule (passes/inter-op/step-bound.ts): it must hold for
 * whatever the simulator computes, couldStepUnder must agree with enumerating every stage
 * plan (and stepUnder's witness be one such plan), and a micro-batch count whose bubble alone loses to another count's step is
 * rejected before its stage DP.
 */
import { describe, expect, it } from 'vitest';
import { loadCostModel } from '../cost-models/calibrated.js';
import { newBestStep, offerStep } from '../passes/inter-op/best-step.js';
import { isRejection, planPipeline, type PipelinePlan, type PipelineRejection } from '../passes/inter-op/pipeline.js';
import type { StageOption, StageProblem } from '../passes/inter-op/stage-dp.js';
import { couldStepUnder, prefixBound, stepLowerBound, stepUnder } from '../passes/inter-op/step-bound.js';
import { buildSchedule } from '../passes/schedule/schedule.js';
import { simulateSchedule, type StageCosts } from '../passes/schedule/simulate.js';
import { unfuseProjections } from '../passes/unfuse-projections.js';
import { parseCluster } from '../src/cluster/load.js';
import { buildGpt } from '../src/models/gpt.js';
import { pipelineClusteringOf, trainingGraphOf } from '../src/planner/pipeline-task.js';
import { rng } from '../src/solver/random-problem.js';

describe('the 1F1B step lower bound', () => {
  it('is at most the simulated step, whatever the stage costs, transfers and updates, and is reached by one stage', () => {
    const r = rng(11);
    for (let i = 0; i < 400; i++) {
      const S = 1 + Math.floor(r() * 10);
      const M = 1 + Math.floor(r() * 24);
      const work = Array.from({ length: S }, () => (r() < 0.3 ? r() * 0.01 : 0.1 + r()));
      const transfer = Array.from({ length: S - 1 }, () => (r() < 0.3 ? 0 : r() * 0.5));
      const updates = work.map(() => (r() < 0.3 ? 0 : r() * (r() < 0.5 ? 0.1 : 3)));
      const costs: StageCosts = { forwardSeconds: work.map((w) => w / 3), backwardSeconds: work.map((w) => (2 * w) / 3), activationTransferSeconds: transfer, gradientTransferSeconds: transfer, updateSeconds: updates };
      const step = simulateSchedule(buildSchedule('1f1b', S, M), costs).stepSeconds;
      const bound = stepLowerBound(work, M, updates);
      expect(bound, `S=${S} M=${M}`).toBeLessThanOrEqual(step * (1 + 1e-12));
      // With the boundaries (activation in, gradient out) on the first and last micro-batches' paths.
      const crossings = [0, ...transfer.map((t) => 2 * t)];
      const withTransfers = stepLowerBound(work, M, updates, crossings);
      expect(withTransfers, `S=${S} M=${M} with transfers`).toBeLessThanOrEqual(step * (1 + 1e-12));
      expect(withTransfers).toBeGreaterThanOrEqual(bound);
      // No less than M x the slowest stage (the cap's bound) nor than the whole sum and stage 0's update at M = 1.
      expect(bound).toBeGreaterThanOrEqual(M * Math.max(...work) * (1 - 1e-12));
      if (M === 1) expect(bound).toBeGreaterThanOrEqual((work.reduce((a, b) => a + b, 0) + (updates[0] ?? 0)) * (1 - 1e-12));
      expect(bound).toBeGreaterThanOrEqual(stepLowerBound(work, M));
    }
    // The round trip: eight stages, the first slowest (GPT-1.3B's M=16 plan on 8x8, ms), where
    // the prefix bound leaves out the stages after the first and falls 8% short.
    const work = [147.4, 109.6, 109.6, 109.6, 109.6, 109.6, 109.6, 134.8];
    const transfer = work.slice(1).map(() => 21.5);
    const updates = [9, 5, 5, 5, 5, 5, 5, 3];
    const gpt = simulateSchedule(buildSchedule('1f1b', 8, 16), { forwardSeconds: work.map((w) => w / 3), backwardSeconds: work.map((w) => (2 * w) / 3), activationTransferSeconds: transfer, gradientTransferSeconds: transfer, updateSeconds: updates }).stepSeconds;
    const crossings = [0, ...transfer.map((t) => 2 * t)];
    expect(prefixBound(work, 16, updates, crossings)).toBeLessThan(0.93 * gpt);
    expect(stepLowerBound(work, 16, updates, crossings)).toBeGreaterThan(0.98 * gpt);
    expect(stepLowerBound(work, 16, updates, crossings)).toBeLessThanOrEqual(gpt);
    // One stage steps in exactly M x its work plus its update: the bound is reached.
    const one = simulateSchedule(buildSchedule('1f1b', 1, 5), { forwardSeconds: [1], backwardSeconds: [2], activationTransferSeconds: [], gradientTransferSeconds: [], updateSeconds: [0.5] }).stepSeconds;
    expect(stepLowerBound([3], 5, [0.5])).toBeCloseTo(one, 12);
  });

  it('couldStepUnder agrees with the least bound over every stage plan (contiguous stages, at most all devices, each fitting one micro-batch, boundaries beside whole hosts crossed)', () => {
    for (let seed = 1; seed <= 80; seed++) {
      const r = rng(seed);
      const layers = 1 + Math.floor(r() * 5);
      const devices = 1 + Math.floor(r() * 6);
      const M = 1 + Math.floor(r() * 8);
      const table = new Map<string, StageOption[]>();
      for (let a = 0; a < layers; a++) {
        for (let b = a; b < layers; b++) {
          const opts: StageOption[] = [];
          for (let k = 0; k < 3; k++) {
            const d = 1 + Math.floor(r() * devices);
            opts.push({ submesh: k, devices: d, seconds: ((b - a + 1) * (0.5 + r())) / d, staticBytes: r() * 10, activationBytes: r() * 10, memoryLimit: r() < 0.2 ? 5 : 100, ...(r() < 0.8 ? { stepSeconds: r() * 2 } : {}), ...(r() < 0.4 ? { wholeHosts: true } : {}) });
          }
          table.set(`${a},${b}`, opts);
        }
      }
      // Half the problems price their boundaries (seconds both ways, crossed beside a stage on whole hosts).
      const boundary = Array.from({ length: layers }, () => r() * 3);
      const priced = seed % 2 === 0;
      const problem: StageProblem = { layers, devices, microbatches: M, options: (a, b) => table.get(`${a},${b}`) ?? [], ...(priced ? { boundarySeconds: (a: number) => boundary[a] ?? 0 } : {}) };
      // Every plan: a split of the layers into ranges, an option per range.
      let least = Infinity;
      let leastPrefix = Infinity;
      const walk = (a: number, used: number, work: number[], updates: number[], crossings: number[], prevWhole: boolean): void => {
        if (a === layers) {
          least = Math.min(least, stepLowerBound(work, M, updates, crossings));
          leastPrefix = Math.min(leastPrefix, prefixBound(work, M, updates, crossings));
          return;
        }
        for (let b = a; b < layers; b++) {
          for (const o of problem.options(a, b)) {
            if (used + o.devices > devices || o.staticBytes + o.activationBytes > o.memoryLimit) continue;
            const crossed = priced && a > 0 && (prevWhole || o.wholeHosts === true) ? (boundary[a] ?? 0) : 0;
            walk(b + 1, used + o.devices, [...work, o.seconds], [...updates, o.stepSeconds ?? 0], [...crossings, crossed], o.wholeHosts === true);
          }
        }
      };
      walk(0, 0, [], [], [], false);
      if (least === Infinity) {
        expect(couldStepUnder(problem, 1e9), `seed ${seed}`).toBe(false);
        continue;
      }
      expect(couldStepUnder(problem, least * (1 + 1e-9)), `seed ${seed}`).toBe(true);
      expect(couldStepUnder(problem, least * (1 - 1e-9)), `seed ${seed}`).toBe(false);
      // Without the round trips (the DP for large problems): the prefix bound's least.
      expect(couldStepUnder(problem, leastPrefix * (1 + 1e-9), false), `seed ${seed}`).toBe(true);
      expect(couldStepUnder(problem, leastPrefix * (1 - 1e-9), false), `seed ${seed}`).toBe(false);
      expect(leastPrefix).toBeLessThanOrEqual(least);
      // The witness stepUnder gives is such a plan: its options cover the layers in order,
      // on at most all devices, each fitting, and its bound is under the one asked for.
      const bound = least * (1 + 1e-9) + r() * least;
      const witness = stepUnder(problem, bound);
      if (!witness) throw new Error(`seed ${seed}: no witness under ${bound}`);
      const rangeOf = (o: StageOption): [number, number] => {
        for (const [key, opts] of table) if (opts.includes(o)) return key.split(',').map(Number) as [number, number];
        throw new Error(`seed ${seed}: an option not of the problem`);
      };
      let next = 0;
      const work: number[] = [];
      const crossings: number[] = [];
      witness.forEach((o, i) => {
        const [a, b] = rangeOf(o);
        expect(a, `seed ${seed}`).toBe(next);
        next = b + 1;
        expect(o.staticBytes + o.activationBytes).toBeLessThanOrEqual(o.memoryLimit);
        work.push(o.seconds);
        crossings.push(priced && a > 0 && (witness[i - 1]?.wholeHosts === true || o.wholeHosts === true) ? (boundary[a] ?? 0) : 0);
      });
      expect(next, `seed ${seed}`).toBe(layers);
      expect(witness.reduce((d, o) => d + o.devices, 0)).toBeLessThanOrEqual(devices);
      expect(stepLowerBound(work, M, witness.map((o) => o.stepSeconds ?? 0), crossings)).toBeLessThanOrEqual(bound * (1 + 1e-12));
      expect(stepUnder(problem, least * (1 - 1e-9)), `seed ${seed}`).toBeUndefined();
    }
    expect(couldStepUnder({ layers: 1, devices: 1, microbatches: 1, options: () => [] }, Infinity)).toBe(true);
  });
});

describe('a count whose bubble alone loses', () => {
  const cluster = parseCluster('hosts: 2\ndevicesPerHost: 2\ndevice: A100-80GB\nintraHost: {bandwidth: 300GB/s, latency: 5us}\ninterHost: {bandwidth: 25Gb/s, latency: 20us}\n', 'two-hosts.yaml');
  // Every mesh priced (no floors, computeScalesDown unset): the bound's own test after
  // pricing, which floors would only reach sooner (tests/best-step.test.ts).
  const cost = { ...loadCostModel(undefined), computeScalesDown: undefined };
  const planAt = async (microbatches: number, best?: number): Promise<PipelinePlan | PipelineRejection> => {
    const graph = unfuseProjections(buildGpt({ layers: 4, hidden: 128, heads: 4, seq: 64, vocab: 256, weights: 'external', batch: 16 / microbatches })).graph;
    const tg = trainingGraphOf({ graph, loss: 'cross-entropy', optimizer: undefined });
    const { clustering } = pipelineClusteringOf(tg, cluster.devices.length, 1);
    const bestStep = newBestStep();
    if (best !== undefined) offerStep(bestStep, best);
    const device = cluster.groups[0]?.device;
    if (!device) throw new Error('no device');
    return planPipeline(tg, { cluster, device, cost, layers: clustering.layers, clustering, microbatches, bestStep });
  };

  it('is rejected before its stage DP when no plan could step under the best, though its own stages are within the cap', async () => {
    const alone = await planAt(1);
    if (isRejection(alone)) throw new Error(alone.rejected);
    expect(alone.stages.length).toBeGreaterThan(1);
    // One micro-batch: the bound is at least the sum of the stages' work. Best steps a little
    // under that sum (over the slack) leave this plan's every stage under the cap (1.25 x best
    // / 1), so the cap alone would plan the count; the bound rejects it.
    const work = alone.stageCosts.forwardSeconds.map((f, i) => f + (alone.stageCosts.backwardSeconds[i] ?? 0));
    const sum = work.reduce((a, b) => a + b, 0);
    let rejected: string | undefined;
    for (const x of [0.95, 0.85, 0.75]) {
      const best = (x * sum) / 1.25;
      expect(Math.max(...work)).toBeLessThanOrEqual(1.25 * best);
      const r = await planAt(1, best);
      if (isRejection(r)) {
        rejected = r.rejected;
        break;
      }
    }
    expect(rejected).toMatch(/^no stage plan could step under 1\.25 x the best step [\d.e+-]+ s another micro-batch count reached: a 1F1B step of 1 micro-batches takes, for every stage, at least the work of the stages before it and of the boundaries between them that cross hosts, plus 1 times its own, and an update, and waits out the first and the last micro-batch's round trips through the stages after it$/);
    // Its own step as the best: the same plan as alone.
    const own = await planAt(1, alone.stepTimeSeconds);
    if (isRejection(own)) throw new Error(own.rejected);
    expect(own.stepTimeSeconds).toBe(alone.stepTimeSeconds);
  }, 120_000);
});


describe('a count the bound lets through but memory and the stage cap do not', () => {
  it('is rejected after the stage DP, saying the memory limit and the cap left no plan', async () => {
    const cluster = parseCluster('hosts: 2\ndevicesPerHost: 2\ndevice: A100-80GB\nintraHost: {bandwidth: 300GB/s, latency: 5us}\ninterHost: {bandwidth: 25Gb/s, latency: 20us}\n', 'two-hosts.yaml');
    // Every mesh priced (no floors): the tests after pricing, which floors, proven and
    // against the best itself, would reach before it (tests/best-step.test.ts).
    const cost = { ...loadCostModel(undefined), computeScalesDown: undefined };
    const preset = cluster.groups[0]?.device;
    if (!preset) throw new Error('no device');
    const planAt = async (memoryBytes: number | undefined, best?: number): Promise<PipelinePlan | PipelineRejection> => {
      const graph = unfuseProjections(buildGpt({ layers: 4, hidden: 128, heads: 4, seq: 64, vocab: 256, weights: 'external', batch: 4 })).graph;
      const tg = trainingGraphOf({ graph, loss: 'cross-entropy', optimizer: undefined });
      const { clustering } = pipelineClusteringOf(tg, cluster.devices.length, 1);
      const bestStep = newBestStep();
      if (best !== undefined) offerStep(bestStep, best);
      return planPipeline(tg, { cluster, device: memoryBytes === undefined ? preset : { ...preset, memoryBytes }, cost, layers: clustering.layers, clustering, microbatches: 4, bestStep });
    };
    const ok = (p: PipelinePlan | PipelineRejection): PipelinePlan => {
      if (isRejection(p)) throw new Error(p.rejected);
      return p;
    };
    const bound = (p: PipelinePlan): number => stepLowerBound(p.stageCosts.forwardSeconds.map((f, i) => f + (p.stageCosts.backwardSeconds[i] ?? 0)), 4, p.stageCosts.updateSeconds);
    // A device 10% short of what the fastest plan's largest stage needs.
    const fastest = ok(await planAt(undefined));
    const need = Math.max(...fastest.stages.map((s, i) => s.plan.staticBytes + s.plan.activationBytes * Math.min(fastest.stages.length - i, 4)));
    const memory = Math.floor(0.9 * need);
    const fitting = ok(await planAt(memory));
    expect(fitting.memoryNote).toMatch(/^the fastest plan .* was rejected/);
    // Best steps whose bound (1.25 x best) is about the fastest plan's own: the bound,
    // memory aside, lets that plan through, but memory forbids it, and no plan that fits
    // keeps its stages under the cap.
    const [low, high] = [bound(fastest), bound(fitting)];
    expect(low).toBeLessThan(high);
    const seen: string[] = [];
    for (const x of [0.05, 0, -0.05]) {
      const r = await planAt(memory, (low + x * (high - low)) / 1.25);
      if (isRejection(r)) seen.push(r.rejected);
    }
    expect(
      seen.some((m) => /^the fastest plan .* was rejected: .*; and every stage plan that fits has a stage slower than [\d.e+-]+ ms per micro-batch \(1\.25 x the best step [\d.e+-]+ s \/ 4 micro-batches\), so it steps slower than the plan another micro-batch count reached$/.test(m)),
      seen.join('\n'),
    ).toBe(true);
  }, 120_000);
});
