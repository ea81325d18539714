/**
 * The programmatic API: `import { compile, compare, run } from 'autopar'` (src/api/), and the
 * lower-level pieces they are built from (importOnnx, planModel, runPlan, ...).
 * The same objects the CLI prints with --json.
 */
export { AutoparError, type ErrorCode } from './errors.js';
export type { Graph, Node, TensorType, Dim, Initializer } from './ir/types.js';
export type { DType } from './ir/dtype.js';
export { type HostTensor, hostTensor } from './ir/host-tensor.js';
export { GraphBuilder } from './ir/builder.js';
export { printGraph } from './ir/print.js';
export { verifyGraph } from './ir/verify.js';
export { importOnnx, importBytes, type ImportOptions, type ImportResult } from './onnx/import.js';
export { inspectModel, type InspectResult } from './inspect.js';
export { evaluateModel, type EvalOptions, type EvalResult } from './evaluate.js';
export { execute, type ExecuteOptions, type ExecuteResult } from './runtime/executor.js';
export { initBackend, type BackendInfo } from './runtime/backend.js';
export { createTrainer, type Trainer, type StepResult } from './runtime/train.js';
export { buildTrainingGraph, type TrainingGraph, type TrainingOptions } from './training/build.js';
export { crossEntropy, customLoss, mse, type LossSpec } from './training/losses.js';
export type { OptimizerConfig } from './training/optimizers.js';
export { trainingMemory, type TrainingMemory } from './analysis/memory.js';
export { buildGpt, GPT3_SHAPES, type GptConfig } from './models/gpt.js';
export { readReference, writeReference } from './reference/folder.js';
export { compareTensors, type TensorError } from './reference/compare.js';
export { loadCluster, parseCluster, logicalMeshes, submeshes } from './cluster/index.js';
export { analyticalCostModel, calibratedCostModel, loadCostModel, type CostModel } from '../cost-models/index.js';
export { compileModel, type CompileOptions, type Compiled } from './planner/compile.js';
export { compilePipeline } from './planner/pipeline.js';
export { isPipelined, planModel, type PlannedModel } from './planner/plan-model.js';
export { compareStrategies, type CompareResult } from './planner/compare.js';
export { buildPlanJson, compileSummary, writePlan, type PlanJson, type CompileSummary } from './planner/plan-json.js';
export { lowerCompiled, writeCompiled, writeDevicePrograms } from './planner/device-programs.js';
export { lowerMeshPlan, type MeshProgram, type MeshProgramSet } from './emit/lower/lower-mesh.js';
export { runPlan, type RunOptions, type RunSummary } from './runtime/pipeline/run-plan.js';
export { runMeshPlan, type MeshRunResult } from './runtime/spmd/run-mesh.js';
export { planIntraOp, type IntraOpPlan } from '../passes/intra-op/plan.js';
export { isRejection, pipelineClustering, planPipeline, type PipelinePlan, type PipelineRejection } from '../passes/inter-op/pipeline.js';
export { clusterLayers, type LayerClustering } from '../passes/cluster-layers.js';
export { buildSchedule } from '../passes/schedule/schedule.js';
export { simulateSchedule } from '../passes/schedule/simulate.js';
// The three calls training code needs (docs: README "Programmatic API").
export { compile, type CompileApiOptions, type CompileResult, type CompileFiles } from './api/compile.js';
export { compare, type CompareApiOptions, type CompareApiResult } from './api/compare.js';
export { sweep, type SweepApiOptions, type SweepApiResult } from './api/sweep.js';
export { run, type RunApiOptions } from './api/run.js';
export type { ClusterInput, ModelInput, PlanningOptions } from './api/options.js';
export type { ProgressEvent } from './planner/compile.js';
export { DEFAULT_MIN_GAIN, DEFAULT_SWEEP_STRATEGIES, SWEEP_STRATEGIES, type SweepPoint, type SweepResult, type SweepStrategy } from './planner/sweep.js';
export { resizeCluster } from './cluster/resize.js';
