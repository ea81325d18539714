/**
 * The micro-batch search shares its best step between the counts it plans (the largest
 * count and one first, then from the largest down): a count planned later offers its DP
 * only stages fast enough to beat it, and is rejected when it has none. The search's
 * answer must not change.
 */
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadCostModel } from '../cost-models/calibrated.js';
import { bestStepSeconds, newBestStep, offerStep, STAGE_CAP_SLACK, stageCap } from '../passes/inter-op/best-step.js';
import { isRejection, planPipeline, type PipelinePlan, type PipelineRejection } from '../passes/inter-op/pipeline.js';
import { unfuseProjections } from '../passes/unfuse-projections.js';
import { parseCluster } from '../src/cluster/load.js';
import { buildGpt, type GptConfig } from '../src/models/gpt.js';
import { compilePipeline, searchPhases } from '../src/planner/pipeline.js';
import { pipelineClusteringOf, trainingGraphOf } from '../src/planner/pipeline-task.js';
import type { Cluster } from '../src/cluster/types.js';
import { buildSchedule } from '../passes/schedule/schedule.js';
import { simulateSchedule, type StageCosts } from '../passes/schedule/simulate.js';

const hosts = (network: string): Cluster => parseCluster(`hosts: 2\ndevicesPerHost: 2\ndevice: A100-80GB\nintraHost: {bandwidth: 300GB/s, latency: 5us}\ninterHost: {bandwidth: ${network}, latency: 20us}\n`, 'two-hosts.yaml');
const cluster = hosts('25Gb/s');
// A network slow enough that transfers and the update's gradient synchronisation take most of the step.
const slowNetwork = hosts('1Gb/s');
const config: Omit<GptConfig, 'batch'> = { layers: 4, hidden: 128, heads: 4, seq: 64, vocab: 256, weights: 'external' };
const cost = loadCostModel(undefined);

function ok(p: PipelinePlan | PipelineRejection): PipelinePlan {
  if (isRejection(p)) throw new Error(`no pipeline plan: ${p.rejected}`);
  return p;
}

/** One count planned alone, as the search plans it, with or without a best step to beat. */
async function planAt(batch: number, microbatches: number, best?: number, on: Cluster = cluster, memoryBytes?: number): Promise<PipelinePlan | PipelineRejection> {
  const preset = on.groups[0]?.device;
  if (!preset) throw new Error('no device');
  const device = memoryBytes === undefined ? preset : { ...preset, memoryBytes };
  const graph = unfuseProjections(buildGpt({ ...config, batch: batch / microbatches })).graph;
  const tg = trainingGraphOf({ graph, loss: 'cross-entropy', optimizer: undefined });
  const { clustering } = pipelineClusteringOf(tg, on.devices.length, 1);
  const bestStep = newBestStep();
  if (best !== undefined) offerStep(bestStep, best);
  return planPipeline(tg, { cluster: on, device, cost, layers: clustering.layers, clustering, microbatches, bestStep });
}

/** Every stage's work (forward + backward of one micro-batch) times M is at most the simulated step. */
function expectStepAtLeastMTimesEveryStage(p: PipelinePlan): void {
  const c = p.stageCosts;
  expect(c.forwardSeconds.length).toBe(p.stages.length);
  c.forwardSeconds.forEach((f, i) => {
    const work = f + (c.backwardSeconds[i] ?? 0);
    expect(work).toBeGreaterThan(0);
    expect(p.microbatches * work).toBeLessThanOrEqual(p.stepTimeSeconds * (1 + 1e-12));
  });
}

describe('the best step shared between micro-batch counts', () => {
  it('starts empty, keeps the least offered, rounds up, and is the same memory in another thread', async () => {
    const b = newBestStep();
    expect(bestStepSeconds(b)).toBe(Infinity);
    offerStep(b, 2.5);
    offerStep(b, 3);
    offerStep(b, Number.NaN);
    expect(bestStepSeconds(b)).toBe(2.5);
    offerStep(b, 1.0000000001);
    // Whole nanoseconds, rounded up: the cap only loosens.
    expect(bestStepSeconds(b)).toBe(1.000000001);
    // What a worker thread receives by postMessage is a view of the same memory.
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<BigInt64Array>((resolve) => port2.once('message', resolve));
    port1.postMessage(b);
    const there = await received;
    offerStep(there, 0.5);
    expect(bestStepSeconds(b)).toBe(0.5);
    port1.close();
    expect(stageCap(2, 4)).toBeCloseTo((2 * STAGE_CAP_SLACK) / 4, 12);
  });

  it("keeps a count's plan when it can beat the best step, and rejects the count, saying why, when no stage is fast enough", async () => {
    const alone = ok(await planAt(16, 4));
    // Its own step as the best: every stage of it is within the cap, so the same plan.
    const capped = ok(await planAt(16, 4, alone.stepTimeSeconds));
    expect(capped.stepTimeSeconds).toBe(alone.stepTimeSeconds);
    expect(capped.stages.map((s) => [s.layers, s.devices, s.mesh.shape])).toEqual(alone.stages.map((s) => [s.layers, s.devices, s.mesh.shape]));
    // A best step no stage plan at this count can approach: rejected before stage planning
    // (by the step's lower bound, tests/step-bound.test.ts, which the cap's stages also obey).
    const far = alone.stepTimeSeconds / 100;
    const r = await planAt(16, 4, far);
    // Known before any mesh was priced (their floors are enough: see the tests below).
    expect(isRejection(r) && r.rejected).toMatch(/^no stage plan could step under the best step [\d.e+-]+ s another micro-batch count reached: a 1F1B step of 4 micro-batches takes, for every stage, at least the work of the stages before it and of the boundaries between them that cross hosts, plus 4 times its own, and an update, and waits out the first and the last micro-batch's round trips through the stages after it \(found with every logical mesh at its floors, \d+ of \d+ by their relaxations, none priced\)$/);
    // The bound it rests on: a stage works through every micro-batch (forward and backward,
    // transfers aside on their own stream), so a plan steps in at least M x its slowest stage's work.
    expectStepAtLeastMTimesEveryStage(alone);
  }, 120_000);

  it('rejects a count at floors only when pricing every mesh gives no better step, and otherwise plans what pricing every mesh plans, or a plan that cannot win', async () => {
    // The same cost model without the floors (computeScalesDown unset): every mesh priced.
    const full = { ...cost, computeScalesDown: undefined };
    const planWith = async (on: Cluster, m: number, best: number | undefined, model: typeof cost): Promise<PipelinePlan | PipelineRejection> => {
      const graph = unfuseProjections(buildGpt({ ...config, batch: 16 / m })).graph;
      const tg = trainingGraphOf({ graph, loss: 'cross-entropy', optimizer: undefined });
      const { clustering } = pipelineClusteringOf(tg, on.devices.length, 1);
      const bestStep = newBestStep();
      if (best !== undefined) offerStep(bestStep, best);
      const device = on.groups[0]?.device;
      if (!device) throw new Error('no device');
      return planPipeline(tg, { cluster: on, device, cost: model, layers: clustering.layers, clustering, microbatches: m, bestStep });
    };
    // Two hosts of two A100 and of four V100 (on the second, floors reject before pricing).
    const fours = parseCluster('hosts: 2\ndevicesPerHost: 4\ndevice: V100-16GB\nintraHost: nvlink2\ninterHost: {bandwidth: 25Gb/s, latency: 25us}\n', 'two-hosts-of-four.yaml');
    const atFloors = / \(found with every logical mesh at its floors, \d+ of \d+ by their relaxations, none priced\)$/;
    const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    let early = 0;
    let beyond = 0;
    let same = 0;
    let fewer = 0;
    for (const on of [cluster, fours]) {
      const reference = ok(await planWith(on, 16, undefined, cost)).stepTimeSeconds;
      for (const m of [2, 4, 16]) {
        for (const best of [undefined, reference / 4, reference]) {
          const [a, b] = [await planWith(on, m, best, cost), await planWith(on, m, best, full)];
          if (isRejection(a) && atFloors.test(a.rejected)) {
            // Rejected before pricing, on proven floors against the best itself: pricing every
            // mesh rejects the count too, or plans it no faster than the best (it cannot win).
            early++;
            expect(a.seconds.stageDp).toBe(0);
            if (!isRejection(b)) {
              expect(ok(b).stepTimeSeconds).toBeGreaterThanOrEqual((best ?? 0) * (1 - 1e-9));
              beyond++;
            }
          } else if (isRejection(a)) {
            // Rejected after pricing (the lazy meshes across hosts perhaps at their floors):
            // the same test with prices, which floors only flatter, so pricing rejects it too.
            expect(isRejection(b)).toBe(true);
            if (isRejection(b) && a.rejected !== b.rejected) expect(a.rejected).toMatch(new RegExp(`^${escape(b.rejected)} \\(found with \\d+ of its \\d+ logical meshes at their floors, not priced\\)$`));
          } else if (isRejection(b)) {
            // Let through by floors where prices reject it: its plan steps over the slack x the
            // best (the bound holds of every plan of priced options), so it cannot win.
            expect(ok(a).stepTimeSeconds).toBeGreaterThan(STAGE_CAP_SLACK * (best ?? 0) * (1 - 1e-9));
          } else {
            expect([ok(a).stepTimeSeconds, ok(a).stages.map((s) => [s.layers, s.devices])]).toEqual([ok(b).stepTimeSeconds, ok(b).stages.map((s) => [s.layers, s.devices])]);
            same++;
            // With floors, meshes across hosts no plan picked were never priced.
            if (ok(a).intraOpSolves < ok(b).intraOpSolves) fewer++;
          }
        }
      }
    }
    // Some of these counts were rejected early (some of them where the cap's slack lets
    // pricing plan a losing step), and some planned: the test tells the paths apart.
    expect(early).toBeGreaterThan(0);
    expect(beyond).toBeGreaterThan(0);
    expect(same).toBeGreaterThan(3);
    expect(fewer).toBeGreaterThan(0);
  }, 300_000);

  it('under memory pressure keeps the plan its own step allows (lean layouts priced), and rejects a count that cannot beat a far better step', async () => {
    // A device 10% short of what the fastest plan's largest stage needs: lean layouts decide.
    const fastest = ok(await planAt(16, 4));
    const need = Math.max(...fastest.stages.map((s, i) => s.plan.staticBytes + s.plan.activationBytes * Math.min(fastest.stages.length - i, 4)));
    const memory = Math.floor(0.9 * need);
    const alone = ok(await planAt(16, 4, undefined, cluster, memory));
    expect(alone.memoryNote).toMatch(/^the fastest plan .* was rejected/);
    const capped = ok(await planAt(16, 4, alone.stepTimeSeconds, cluster, memory));
    expect(capped.stepTimeSeconds).toBe(alone.stepTimeSeconds);
    expect(capped.stages.map((s) => [s.layers, s.devices, s.mesh.shape])).toEqual(alone.stages.map((s) => [s.layers, s.devices, s.mesh.shape]));
    const r = await planAt(16, 4, alone.stepTimeSeconds / 100, cluster, memory);
    expect(isRejection(r) && r.rejected).toMatch(/^no stage plan could step under the best step [\d.e+-]+ s another micro-batch count reached.* none priced\)$/);
    // Rejected at floors, before any stage was planned: its time is pricing's.
    if (!isRejection(r)) throw new Error('expected a rejection');
    expect(r.seconds.pricing).toBeGreaterThan(0);
    expect(r.seconds.stageDp).toBe(0);
    expect(r.seconds.stagePlans).toBe(0);
  }, 120_000);

  it('rejects a count before pricing its 2-D meshes when even their floors leave no stage plan within the cap that fits, as pricing them would', async () => {
    // Eight hosts of four devices with 2 GiB each for a GPT of hidden 2048: memory decides.
    const tight = parseCluster('hosts: 8\ndevicesPerHost: 4\ndevice: V100-16GB\nintraHost: nvlink2\ninterHost: {bandwidth: 25Gb/s, latency: 25us}\n', 'eight-hosts.yaml');
    const preset = tight.groups[0]?.device;
    if (!preset) throw new Error('no device');
    const device = { ...preset, memoryBytes: 2 * 2 ** 30 };
    const big: Omit<GptConfig, 'batch'> = { layers: 16, hidden: 2048, heads: 16, seq: 1024, vocab: 8192, weights: 'external' };
    const planWith = async (m: number, best: number | undefined, model: typeof cost): Promise<PipelinePlan | PipelineRejection> => {
      const graph = unfuseProjections(buildGpt({ ...big, batch: 256 / m })).graph;
      const tg = trainingGraphOf({ graph, loss: 'cross-entropy', optimizer: undefined });
      const { clustering } = pipelineClusteringOf(tg, tight.devices.length, 1);
      const bestStep = newBestStep();
      if (best !== undefined) offerStep(bestStep, best);
      return planPipeline(tg, { cluster: tight, device, cost: model, layers: clustering.layers, clustering, microbatches: m, bestStep });
    };
    // A best step 1.25 x the largest count's: loose enough for the time test at floors
    // (couldStepUnder), not for the stage DP at memory floors.
    const best = 1.25 * ok(await planWith(256, undefined, cost)).stepTimeSeconds;
    const early = await planWith(32, best, cost);
    expect(isRejection(early) && early.rejected).toMatch(/^every stage plan that fits, even with each layer holding only its bytes spread over its stage's devices, has a stage slower than [\d.]+ ms per micro-batch \(the best step [\d.]+ s another micro-batch count reached \/ 32 micro-batches\) \(found with every logical mesh at its floors, \d+ of \d+ by their relaxations, none priced\)$/);
    // Every mesh priced (no floors: computeScalesDown unset), the count is rejected all the same.
    const late = await planWith(32, best, { ...cost, computeScalesDown: undefined });
    expect(isRejection(late) && late.rejected).toMatch(/every stage plan that fits has a stage slower than/);
    expect(isRejection(early) && isRejection(late) && early.seconds.pricing).toBeLessThan(isRejection(late) ? late.seconds.pricing + late.seconds.stageDp : 0);
  }, 120_000);

  it('the search (the largest count, then one, then the rest from the largest down, each capped by the best before it) chooses what planning every count alone chooses', async () => {
    const batch = 16;
    const counts = [1, 2, 4, 8, 16];
    const alone = await Promise.all(counts.map((m) => planAt(batch, m)));
    const steps = alone.map((p) => (isRejection(p) ? Infinity : p.stepTimeSeconds));
    const bestAlone = Math.min(...steps);
    const chosenAlone = counts[steps.indexOf(bestAlone)];
    const model = { graph: buildGpt({ ...config, batch }), name: 'gpt-small', rebuild: (b: number) => buildGpt({ ...config, batch: b }) };
    const seen: number[] = [];
    const searched = await compilePipeline({ model, cluster, loss: 'cross-entropy', strategy: 'pipeline', planWorkers: 1, progress: (e) => e.kind === 'microbatches' && seen.push(e.microbatches) });
    expect(seen).toEqual([16, 1, 8, 4, 2]);
    expect(searched.summary.microbatches).toBe(chosenAlone);
    // Its phases: the graphs, each count's (in the order they finished; the chosen one
    // planned its stages and was not rejected), the search's wall clock, the plan.
    const phases = searched.summary.phases;
    expect(phases[0]?.phase).toBe('model graphs');
    expect(phases.slice(-2).map((x) => x.phase)).toEqual(['micro-batch search', 'plan']);
    expect(phases.every((x) => Number.isFinite(x.seconds) && x.seconds >= 0)).toBe(true);
    expect(phases.flatMap((x) => /^M=(\d+) pricing/.exec(x.phase)?.[1] ?? []).map(Number)).toEqual(seen);
    const chosen = phases.filter((x) => x.phase.startsWith(`M=${searched.summary.microbatches} `));
    expect(chosen.map((x) => x.phase)).toEqual([`M=${chosenAlone} pricing`, `M=${chosenAlone} stage DP`, `M=${chosenAlone} stage plans`]);
    expect(phases.find((x) => x.phase === 'micro-batch search')?.seconds).toBeLessThanOrEqual(searched.summary.planningSeconds);
    expect(searched.summary.stepTimeSeconds).toBeCloseTo(bestAlone, 12);
    // The bound the cap rests on holds for every count's plan, on this cluster and on one
    // whose network makes transfers and updates most of the step.
    for (const p of [...alone, ...(await Promise.all(counts.map((m) => planAt(batch, m, undefined, slowNetwork))))]) if (!isRejection(p)) expectStepAtLeastMTimesEveryStage(p);
  }, 240_000);

  it("lists a search's phases: the graphs, each count's in the order they finished (a rejected count's marked, phases it never reached left out), the search, the plan", () => {
    const phases = searchPhases(
      0.25,
      [
        { microbatches: 16, seconds: { pricing: 1, stageDp: 2, stagePlans: 3 }, rejected: false },
        { microbatches: 1, seconds: { pricing: 4, stageDp: 0.5, stagePlans: 0 }, rejected: true },
        { microbatches: 8, seconds: { pricing: 0.01, stageDp: 0, stagePlans: 0 }, rejected: true },
      ],
      9,
      0.1,
    );
    expect(phases).toEqual([
      { phase: 'model graphs', seconds: 0.25 },
      { phase: 'M=16 pricing', seconds: 1 },
      { phase: 'M=16 stage DP', seconds: 2 },
      { phase: 'M=16 stage plans', seconds: 3 },
      { phase: 'M=1 pricing (rejected)', seconds: 4 },
      { phase: 'M=1 stage DP (rejected)', seconds: 0.5 },
      { phase: 'M=8 pricing (rejected)', seconds: 0.01 },
      { phase: 'micro-batch search', seconds: 9 },
      { phase: 'plan', seconds: 0.1 },
    ]);
  });

  it('the simulated 1F1B step is at least M x the work of every stage, whatever the stage costs and transfers', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 300; i++) {
      const [S, M] = [1 + Math.floor(random() * 10), 1 + Math.floor(random() * 24)];
      const work = Array.from({ length: S }, () => (random() < 0.3 ? random() * 0.01 : 0.1 + random()));
      const transfer = Array.from({ length: S - 1 }, () => random() * 0.5);
      const costs: StageCosts = { forwardSeconds: work.map((w) => w / 3), backwardSeconds: work.map((w) => (2 * w) / 3), activationTransferSeconds: transfer, gradientTransferSeconds: transfer, updateSeconds: work.map(() => random() * 0.1) };
      const step = simulateSchedule(buildSchedule('1f1b', S, M), costs).stepSeconds;
      for (const w of work) expect(M * w).toBeLessThanOrEqual(step * (1 + 1e-12));
    }
  }, 240_000);
});
