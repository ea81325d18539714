/**
 * The one interface the planner calls for costs. `analyticalCostModel()` uses datasheet
 * figures and α-β links; `calibratedCostModel(profile)` (calibrated.ts) replaces the
 * compute part with rates measured on this machine. Everything takes plain numbers.
 */
import type { DeviceType } from '../src/cluster/types.js';
import type { CommGroup } from '../src/cluster/mesh.js';
import { collectiveTime } from './collectives.js';
import { modelStateBytes, peakMemory, type BufferLife, type ModelStateBytes, type ModelStateSpec, type PeakMemory } from './memory.js';
import { pipelineTime, type PipelineEstimate, type PipelineSpec } from './pipeline.js';
import { rooflineTime } from './roofline.js';
import type { CollectiveEstimate, CollectiveOp, ComputeEstimate, ComputeOp } from './types.js';

/** α-β of a point-to-point path (e.g. from `transferLink` between two stages' devices). */
export interface PointToPoint {
  readonly alpha: number;
  readonly beta: number;
}

export interface CostModel {
  /** 'analytical', or 'calibrated (<backend> on <machine>)'. */
  readonly name: string;
  /**
   * True when `compute` of an op's 1/n share (flops / n, at least bytes / n) is never under
   * 1/n of the whole op's: so for the roofline, linear in both. The pipeline search then
   * bounds a layer's time on n devices by its one-device time / n (inter-op/time-floors.ts).
   * A measured rate curve need not be (a small op can be measured faster per flop).
   */
  readonly computeScalesDown?: boolean;
  /** Time of one op on one device of the given type. */
  compute(op: ComputeOp, device: DeviceType): ComputeEstimate;
  /** Time of one collective over one or several mesh axes (see `commGroup`). */
  collective(op: CollectiveOp, group: CommGroup): CollectiveEstimate;
  /** Seconds to move `bytes` over a point-to-point path: α + bytes·β. */
  transfer(bytes: number, path: PointToPoint): number;
  /** Parameters, gradients and optimizer states per device (ZeRO-aware). */
  modelStates(spec: ModelStateSpec): ModelStateBytes;
  /** Peak of live buffers over a step. */
  peakMemory(buffers: readonly BufferLife[]): PeakMemory;
  /** Step time of a pipeline from its stages' times. */
  pipeline(spec: PipelineSpec): PipelineEstimate;
}

function transfer(bytes: number, path: PointToPoint): number {
  if (!(bytes >= 0)) throw new RangeError(`bytes must be >= 0, got ${bytes}`);
  return bytes === 0 ? 0 : path.alpha + bytes * path.beta;
}

export function analyticalCostModel(): CostModel {
  return {
    name: 'analytical',
    computeScalesDown: true,
    compute: rooflineTime,
    collective: collectiveTime,
    transfer,
    modelStates: modelStateBytes,
    peakMemory,
    pipeline: pipelineTime,
  };
}
