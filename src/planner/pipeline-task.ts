/**
 * One micro-batch count of the pipeline search, as a task that can run here or in a
 * worker thread: the micro-batch graph in, the pipeline plan (or why there is none)
 * out. Everything crossing is plain data (structured clone).
 */
import { loadCostModel } from '../../cost-models/calibrated.js';
import type { BestStep } from '../../passes/inter-op/best-step.js';
import { pipelineClustering, planPipeline, type PipelinePlan, type PipelineRejection } from '../../passes/inter-op/pipeline.js';
import type { Cluster } from '../cluster/types.js';
import { AutoparError } from '../errors.js';
import type { Graph } from '../ir/types.js';
import type { SolverName } from '../solver/problem.js';
import { buildTrainingGraph, type TrainingGraph } from '../training/build.js';

export interface PipelineTask {
  /** The model at micro-batch size, projections already unfused. */
  readonly graph: Graph;
  readonly microbatches: number;
  readonly cluster: Cluster;
  readonly profile: string | undefined;
  readonly loss: 'mse' | 'cross-entropy' | undefined;
  readonly optimizer: 'sgd' | 'adam' | undefined;
  readonly solver: SolverName | 'auto';
  readonly timeLimitSeconds: number | undefined;
  readonly grid: { readonly dp: number; readonly tp: number; readonly pp: number } | undefined;
  /** The search's best step so far, shared with the other counts' threads (see best-step.ts). */
  readonly bestStep?: BestStep;
}

export function trainingGraphOf(task: Pick<PipelineTask, 'graph' | 'loss' | 'optimizer'>): TrainingGraph {
  return buildTrainingGraph(task.graph, { loss: task.loss === 'cross-entropy' ? 'cross_entropy' : 'mse', optimizer: task.optimizer === 'sgd' ? { kind: 'sgd', lr: 1e-2 } : { kind: 'adam', lr: 1e-3 } });
}

/** The clustering planning and `autopar run` both use for a training graph on `devices` devices. */
export function pipelineClusteringOf(tg: TrainingGraph, devices: number, atLeast: number): ReturnType<typeof pipelineClustering> {
  return pipelineClustering(tg, Math.max(1, Math.min(8, devices, tg.forwardNodes)), atLeast);
}

export async function runPipelineTask(task: PipelineTask): Promise<PipelinePlan | PipelineRejection> {
  const device = task.cluster.groups[0]?.device;
  if (!device) throw new AutoparError('E_CLUSTER', `${task.cluster.file}: no devices`);
  const tg = trainingGraphOf(task);
  const { clustering } = pipelineClusteringOf(tg, task.cluster.devices.length, task.grid?.pp ?? 1);
  return planPipeline(tg, { cluster: task.cluster, device, cost: loadCostModel(task.profile), layers: clustering.layers, clustering, microbatches: task.microbatches, solver: task.solver, timeLimitSeconds: task.timeLimitSeconds, grid: task.grid, bestStep: task.bestStep });
}
