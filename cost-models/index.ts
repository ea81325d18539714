/** The cost model: one interface (CostModel), analytical or calibrated from a profile. */
export { analyticalCostModel, type CostModel, type PointToPoint } from './cost-model.js';
export { calibratedCostModel, deviceTypeFromProfile, loadCostModel, measuredLink } from './calibrated.js';
export { busBandwidthFactor, collectiveTime, groupOf, hierarchicalTime, ringTime, treeTime } from './collectives.js';
export { computeEfficiency, peakFlops, rooflineTime } from './roofline.js';
export {
  bytesPerParameter,
  modelStateBytes,
  peakMemory,
  type BufferLife,
  type BytesPerParameter,
  type ModelStateBytes,
  type ModelStateSpec,
  type Optimizer,
  type PeakMemory,
  type TrainingPrecision,
  type ZeroStage,
} from './memory.js';
export { inFlightMicrobatches, pipelineBubbleFraction, pipelineTime, type PipelineEstimate, type PipelineSchedule, type PipelineSpec } from './pipeline.js';
export { megatronTransformerLayer, tensorParallelCollectives, type LinearLayer, type LinearSplit, type PhaseCollective } from './tensor-parallel.js';
export {
  loadProfile,
  parseProfile,
  saveProfile,
  PROFILE_VERSION,
  type CollectiveFit,
  type CollectivePoint,
  type CollectiveProfile,
  type Profile,
  type ProfileSample,
} from './profile.js';
export { fitAlphaBeta, linkBytes, type AlphaBetaFit, type TimedPoint } from './alpha-beta.js';
export { PROFILED_COLLECTIVES, type ProfiledCollective } from './collective-bench.js';
export { defaultRanks, measureCollectivePoints, measureCollectives, type CollectiveProfileOptions, type CollectiveTransport } from './collective-profiler.js';
export { interleavedSeconds, measureConv, measureElementwise, measureMatmul, measureMatmuls, measureProfile, medianSeconds, type ProfileOptions, type TimingOptions } from './profiler.js';
export { RateCurve } from './rates.js';
export type {
  CollectiveAlgorithm,
  CollectiveEstimate,
  CollectiveKind,
  CollectiveOp,
  ComputeEstimate,
  ComputeOp,
  Dtype,
  OpKind,
} from './types.js';
export { COLLECTIVE_KINDS } from './types.js';
