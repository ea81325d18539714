/**
 * Pipelined training steps on worker threads, one stage per worker (no sharding inside
 * a stage yet): the training graph is cut into stages (stage-split.ts), each worker runs
 * its stage's GPipe or 1F1B program (passes/schedule) with real sends and receives over
 * the threads transport. Sends are synchronous there (a send waits for its receive), so
 * where a stage would send a gradient back while its upstream neighbour sends it the next
 * activation, the downstream stage receives first (otherwise 1F1B deadlocks).
 */
import type { Instruction } from '../../../passes/schedule/instruction.js';
import { buildSchedule, type ScheduleKind } from '../../../passes/schedule/schedule.js';
import { AutoparError } from '../../errors.js';
import type { HostTensor } from '../../ir/host-tensor.js';
import type { TrainingGraph } from '../../training/build.js';
import type { CollectiveCounts } from '../collectives/communicator.js';
import { compiledSibling } from '../collectives/compiled.js';
import { runThreads } from '../collectives/threads/launcher.js';
import { loadWeights } from '../weights.js';
import { splitStages, type StageGraphs } from './stage-split.js';
import type { StageArgs, StageResult } from './stage-worker.js';

export interface PipelineRunOptions {
  readonly tg: TrainingGraph;
  /** Node -> layer (a LayerClustering's layerOf) and each stage's layer range. */
  readonly layerOf: ReadonlyMap<string, number>;
  readonly ranges: readonly (readonly [number, number])[];
  readonly schedule: ScheduleKind;
  /** The feeds of each micro-batch (model inputs and the loss target). */
  readonly microbatches: readonly ReadonlyMap<string, HostTensor>[];
  /** Initial parameters and states (default: the model's initializers). */
  readonly weights?: ReadonlyMap<string, HostTensor>;
  readonly steps: number;
  readonly timeoutMs?: number;
  /** Run passes/schedule's order as it is, without syncSafe (to show why it is needed). */
  readonly asScheduled?: boolean;
}

export interface PipelineRunResult {
  /** Mean loss of each step. */
  readonly losses: readonly number[];
  /** Accumulated gradients of the last step, by parameter. */
  readonly grads: ReadonlyMap<string, HostTensor>;
  /** Those of the first step. */
  readonly firstGrads: ReadonlyMap<string, HostTensor>;
  /** Parameters and optimizer states after the last step. */
  readonly state: ReadonlyMap<string, HostTensor>;
  /** Per stage (worker): what its transport counted. */
  readonly counts: readonly CollectiveCounts[];
}

/**
 * Each stage's program with receives moved ahead of a send to the same neighbour where
 * both sides would otherwise send at once: a downstream stage takes the next activation
 * before sending the gradient back.
 */
export function syncSafe(program: readonly Instruction[]): Instruction[] {
  const out = [...program];
  for (let i = 0; i < out.length; i++) {
    const a = out[i];
    if (a?.kind !== 'send-gradient') continue;
    // ... send-gradient(j) to s-1, [accumulate], recv-activation(k) from s-1 ... -> receive first.
    let j = i + 1;
    while (out[j]?.kind === 'accumulate') j++;
    const b = out[j];
    if (b?.kind === 'recv-activation' && b.from === a.to) {
      out.splice(j, 1);
      out.splice(i, 0, b);
      i++;
    }
  }
  return out;
}

function isStageResult(x: unknown): x is StageResult {
  return typeof x === 'object' && x !== null && 'losses' in x && 'grads' in x && 'firstGrads' in x && 'state' in x;
}

/** Every stage's worker arguments: its graphs, its schedule, the data and its weights. */
export function stageArgsFor(opts: PipelineRunOptions): { splits: StageGraphs[]; args: StageArgs[] } {
  const S = opts.ranges.length;
  const M = opts.microbatches.length;
  if (S < 1 || M < 1) throw new AutoparError('E_USAGE', `a pipelined run needs at least one stage and one micro-batch (got ${S} and ${M})`);
  const splits = splitStages(opts.tg, opts.layerOf, opts.ranges);
  const weights = loadWeights(opts.tg.graph, opts.weights);
  const schedule = buildSchedule(opts.schedule, S, M);
  const tg = opts.tg;
  const args = splits.map((split, s): StageArgs => {
    const names = new Set([split.forward.graph, split.backward.graph, split.update?.graph].flatMap((g) => (g ? [...g.initializers.keys()] : [])));
    for (const p of split.params) names.add(p);
    for (const st of split.states) names.add(st);
    return {
      split,
      program: opts.asScheduled ? [...(schedule.programs[s] ?? [])] : syncSafe(schedule.programs[s] ?? []),
      microbatches: opts.microbatches,
      state: new Map([...weights].filter(([k]) => names.has(k))),
      steps: opts.steps,
      grads: tg.grads,
      updates: tg.updates,
      stateNext: tg.states,
      loss: tg.loss,
    };
  });
  return { splits, args };
}

/** The stages' results put together: the loss from the last stage, each stage's own parameters. */
export function collectResults(splits: readonly StageGraphs[], results: readonly StageResult[], counts: readonly CollectiveCounts[]): PipelineRunResult {
  const losses = results.find((r) => r.losses.length > 0)?.losses ?? [];
  const grads = new Map<string, HostTensor>();
  const firstGrads = new Map<string, HostTensor>();
  const state = new Map<string, HostTensor>();
  for (const [s, r] of results.entries()) {
    const own = new Set([...(splits[s]?.params ?? []), ...(splits[s]?.states ?? [])]);
    for (const p of splits[s]?.params ?? []) {
      const gv = r.grads.get(p);
      if (gv) grads.set(p, gv);
      const g0 = r.firstGrads.get(p);
      if (g0) firstGrads.set(p, g0);
    }
    // Global states (the step count) are kept by every stage alike: any copy will do.
    for (const [k, v] of r.state) if (own.has(k)) state.set(k, v);
  }
  return { losses, grads, firstGrads, state, counts };
}

export async function runPipeline(opts: PipelineRunOptions): Promise<PipelineRunResult> {
  const { splits, args } = stageArgsFor(opts);
  const run = await runThreads({ workers: splits.length, module: compiledSibling(import.meta.url, 'stage-worker.js'), args: (rank) => args[rank], timeoutMs: opts.timeoutMs });
  const results = run.results.map((r, s) => {
    if (!isStageResult(r)) throw new AutoparError('E_INTERNAL', `stage ${s} returned no result`);
    return r;
  });
  return collectResults(splits, results, run.counts);
}
