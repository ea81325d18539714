/**
 * A cost model whose compute times come from a profile of this machine (profiler.ts):
 * matmuls and convolutions from their measured FLOP/s at the nearest sizes, everything
 * else from the bandwidth measured on elementwise add (those kernels are memory-bound;
 * their arithmetic is charged at the best matmul rate, a lower bound). The profile
 * describes the machine a plan will run on, so its rates apply to every device asked
 * about, whatever its type; and the backend computes in float32, so the dtype does not
 * change the rate.
 *
 * Collectives, when the profile measured them (collective-profiler.ts): the runtime ran
 * them between ranks of this machine, so they replace the INTRA-HOST link of the cluster,
 * and nothing else. Precisely, for a collective of kind K:
 * - every mesh axis whose groups stay inside a host (`link: 'intra-host'`, as the
 *   cluster's meshes mark them) gets α = α_K / steps_K(n_fit) per step and β = β_K per
 *   link byte, from the fit of K on the measured rank count nearest the axis size
 *   (steps: 2(n-1) for all-reduce, n-1 for the others, as the ring formulas count them);
 *   so on the measured rank count a ring costs exactly α_K + factor·bytes·β_K, the fit;
 * - a group all of whose devices share a host is priced as that ring on its flat link
 *   (the runtime has no tree; `algorithm` given explicitly is still honoured);
 * - broadcast, send and recv, not measured, use the all-gather fit (they copy without
 *   summing, as all-gather does);
 * - axes across hosts or mixed, meshes built without a cluster (no `link`), and
 *   `transfer` (pipeline stage boundaries) stay analytical.
 * Memory and pipeline stay analytical.
 */
import type { AxisLink } from '../src/cluster/links.js';
import type { CommGroup } from '../src/cluster/mesh.js';
import type { DeviceType } from '../src/cluster/types.js';
import type { ProfiledCollective } from './collective-bench.js';
import { analyticalCostModel, type CostModel } from './cost-model.js';
import { loadProfile, type CollectiveFit, type CollectiveProfile, type Profile, type ProfileSample } from './profile.js';
import { RateCurve } from './rates.js';
import type { CollectiveEstimate, CollectiveKind, CollectiveOp, ComputeEstimate, ComputeOp } from './types.js';

/** Messages of one ring collective over n ranks, in the α term of collectives.ts. */
function ringSteps(kind: ProfiledCollective, n: number): number {
  switch (kind) {
    case 'all-reduce':
      return 2 * (n - 1);
    case 'all-gather':
    case 'reduce-scatter':
    case 'all-to-all':
      return n - 1;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** Which measured kind prices `kind`. */
function measuredKind(kind: CollectiveKind): ProfiledCollective {
  switch (kind) {
    case 'all-reduce':
    case 'all-gather':
    case 'reduce-scatter':
    case 'all-to-all':
      return kind;
    case 'broadcast':
    case 'send':
    case 'recv':
      return 'all-gather';
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** The per-step link of a measured kind for a group of `size` ranks: from the fit on the nearest rank count (ties: the larger). */
export function measuredLink(collectives: CollectiveProfile, kind: CollectiveKind, size: number): { readonly alpha: number; readonly beta: number; readonly fit: CollectiveFit } | undefined {
  const k = measuredKind(kind);
  let best: CollectiveFit | undefined;
  for (const f of collectives.fits) {
    if (f.kind !== k) continue;
    const d = Math.abs(f.ranks - size);
    const bd = best === undefined ? Infinity : Math.abs(best.ranks - size);
    if (d < bd || (d === bd && best !== undefined && f.ranks > best.ranks)) best = f;
  }
  return best === undefined ? undefined : { alpha: best.alpha / ringSteps(k, best.ranks), beta: best.beta, fit: best };
}

/** collective() of the calibrated model: intra-host links replaced by the measured ones (see the file comment). */
function measuredCollective(collectives: CollectiveProfile, base: CostModel): (op: CollectiveOp, group: CommGroup) => CollectiveEstimate {
  const swap = (kind: CollectiveKind, a: AxisLink): AxisLink => {
    if (a.link !== 'intra-host' || a.size <= 1) return a;
    const m = measuredLink(collectives, kind, a.size);
    return m === undefined ? a : { ...a, alpha: m.alpha, beta: m.beta, alltoallBeta: m.beta };
  };
  return (op, group) => {
    const swapped: CommGroup = { axes: group.axes.map((a) => swap(op.kind, a)), flat: swap(op.kind, group.flat) };
    const oneHost = group.flat.link === 'intra-host';
    const auto = op.algorithm === undefined || op.algorithm === 'auto';
    // the runtime runs one flat algorithm on a group inside a host, priced by the ring's formula
    return base.collective(oneHost && auto ? { ...op, algorithm: 'ring' } : op, swapped);
  };
}

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

  const c = profile.collectives;
  return {
    ...base,
    name: `calibrated (${profile.backend} on ${profile.machine.cpuModel}${c ? `; ${c.transport} collectives` : ''})`,
    // Measured rates: an op's share need not cost its share of the whole op's time.
    computeScalesDown: false,
    compute,
    ...(c ? { collective: measuredCollective(c, base) } : {}),
  };
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
