/**
 * Compute time of one op on one device: the roofline
 *   max(flops / (peak[dtype] × efficiency[kind]), bytes / (memoryBandwidth × efficiency.memory)).
 * Matmuls and convolutions run on tensor cores at the dtype's peak (a dtype the device
 * lacks, e.g. bfloat16 on V100, falls back to the float32 rate, as emulation would);
 * other kinds run on the plain float32 units and are, in practice, bound by memory.
 * Efficiencies come with the device (src/cluster/presets.ts: public GEMM benchmarks).
 */
import type { DeviceType, Dtype } from '../src/cluster/types.js';
import type { ComputeEstimate, ComputeOp, OpKind } from './types.js';

/** Peak FLOP/s an op of this kind and dtype can reach on the device, before efficiency. */
export function peakFlops(device: DeviceType, dtype: Dtype, kind: OpKind): number {
  switch (kind) {
    case 'matmul':
    case 'conv':
      return device.peakFlops[dtype] ?? device.peakFlops.float32;
    case 'elementwise':
    case 'reduction':
    case 'normalization':
    case 'data-movement':
    case 'other':
      return device.peakFlops.float32;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** Fraction of the peak the kind reaches: the device's GEMM or conv efficiency, 1 for the rest. */
export function computeEfficiency(device: DeviceType, kind: OpKind): number {
  switch (kind) {
    case 'matmul':
      return device.efficiency.matmul;
    case 'conv':
      return device.efficiency.conv;
    case 'elementwise':
    case 'reduction':
    case 'normalization':
    case 'data-movement':
    case 'other':
      return 1;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

export function rooflineTime(op: ComputeOp, device: DeviceType): ComputeEstimate {
  if (!(op.flops >= 0) || !(op.bytes >= 0)) throw new RangeError(`op flops and bytes must be >= 0, got ${op.flops}, ${op.bytes}`);
  const computeSeconds = op.flops / (peakFlops(device, op.dtype, op.kind) * computeEfficiency(device, op.kind));
  const memorySeconds = op.bytes / (device.memoryBandwidth * device.efficiency.memory);
  return {
    seconds: Math.max(computeSeconds, memorySeconds),
    computeSeconds,
    memorySeconds,
    bound: computeSeconds >= memorySeconds ? 'compute' : 'memory',
  };
}
