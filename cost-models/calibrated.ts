/**
 * A cost model whose compute times come from a profile of this machine (profiler.ts):
 * matmuls and convolutions from their measured FLOP/s at the nearest sizes, everything
 * else from the bandwidth measured on elementwise add (those kernels are memory-bound;
 * their arithmetic is charged at the best matmul rate, a lower bound). The profile
 * describes the machine a plan will run on, so its rates apply to every device asked
 * about, whatever its type; and the backend computes in float32, so the dtype does not
 * change the rate. Communication, memory and pipeline stay analytical until the runtime
 * measures collectives.
 */
import type { DeviceType } from '../src/cluster/types.js';
import { analyticalCostModel, type CostModel } from './cost-model.js';
import { loadProfile, type Profile, type ProfileSample } from './profile.js';
import { RateCurve } from './rates.js';
import type { ComputeEstimate, ComputeOp } from './types.js';

const byFlops = (s: readonly ProfileSample[]): RateCurve => new RateCurve(s.map((x) => ({ work: x.flops, seconds: x.seconds })));
const byBytes = (s: readonly ProfileSample[]): RateCurve => new RateCurve(s.map((x) => ({ work: x.bytes, seconds: x.seconds })));

export function calibratedCostModel(profile: Profile, base: CostModel = analyticalCostModel()): CostModel {
  const matmul = byFlops(profile.samples.matmul);
  const conv = byFlops(profile.samples.conv);
  const memory = byBytes(profile.samples.elementwise);
  const vectorRate = matmul.peak();

  function compute(op: ComputeOp, _device: DeviceType): ComputeEstimate {
    if (!(op.flops >= 0) || !(op.bytes >= 0)) throw new RangeError(`op flops and bytes must be >= 0, got ${op.flops}, ${op.bytes}`);
    const computeSeconds = ((): number => {
      switch (op.kind) {
        case 'matmul':
          return matmul.seconds(op.flops);
        case 'conv':
          return conv.seconds(op.flops);
        case 'elementwise':
        case 'reduction':
        case 'normalization':
        case 'data-movement':
        case 'other':
          return op.flops / vectorRate;
        default: {
          const never: never = op.kind;
          return never;
        }
      }
    })();
    const memorySeconds = memory.seconds(op.bytes);
    return {
      seconds: Math.max(computeSeconds, memorySeconds),
      computeSeconds,
      memorySeconds,
      bound: computeSeconds >= memorySeconds ? 'compute' : 'memory',
    };
  }

  return { ...base, name: `calibrated (${profile.backend} on ${profile.machine.cpuModel})`, compute };
}

/** The profiled machine as a device type (e.g. for a cluster of local workers). */
export function deviceTypeFromProfile(profile: Profile, name = `local-${profile.backend}`): DeviceType {
  return {
    name,
    peakFlops: { float32: profile.summary.matmulFlops },
    memoryBytes: profile.machine.totalMemoryBytes,
    memoryBandwidth: profile.summary.memoryBandwidth,
    efficiency: { matmul: 1, conv: profile.summary.convFlops / profile.summary.matmulFlops, memory: 1 },
    source: `measured by autopar profile on ${profile.machine.cpuModel} (${profile.backend}), ${profile.createdAt}`,
  };
}

/** What `--profile FILE` means to a command: the calibrated model of that profile, else the analytical one. */
export function loadCostModel(profilePath: string | undefined): CostModel {
  return profilePath === undefined ? analyticalCostModel() : calibratedCostModel(loadProfile(profilePath));
}
