/**
 * α-β time of collectives (Thakur, Rabenseifner & Gropp 2005; NCCL's ring and tree).
 * n ranks, S bytes (nccl-tests convention, see types.ts), α seconds per message, β
 * seconds per byte of the group's bottleneck link:
 *
 *   ring all-reduce        2(n-1)·α + 2(n-1)/n·S·β
 *   ring all-gather        (n-1)·α  + (n-1)/n·S·β        (S = gathered output)
 *   ring reduce-scatter    (n-1)·α  + (n-1)/n·S·β        (S = input)
 *   all-to-all             (n-1)·α  + (n-1)/n·S·β_a2a    (pairwise exchange)
 *   ring broadcast         (n-1)·α  + S·β                (pipelined chain)
 *   tree all-reduce        2⌈log2 n⌉·α + 2·S·β           (reduce then broadcast, pipelined)
 *   tree broadcast         ⌈log2 n⌉·(α + S·β)            (binomial)
 *   send/recv              α + S·β
 *
 * Over several mesh axes: either one flat ring/tree on the whole group (the group's own
 * α-β, from the cluster), or hierarchically axis by axis: all-reduce as reduce-scatter
 * on the fast axes, all-reduce of the remaining shard on the slowest, all-gather back;
 * all-gather slow axis first (small pieces cross the slow link); reduce-scatter fast
 * axis first. 'auto' takes the fastest.
 */
import type { AxisLink } from '../src/cluster/links.js';
import type { CommGroup } from '../src/cluster/mesh.js';
import { AutoparError } from '../src/errors.js';
import type { CollectiveAlgorithm, CollectiveEstimate, CollectiveKind, CollectiveOp } from './types.js';

/** nccl-tests bus-bandwidth factor: busBw = algBw × factor, with algBw = bytes / time. */
export function busBandwidthFactor(kind: CollectiveKind, n: number): number {
  if (n <= 1) return 0;
  switch (kind) {
    case 'all-reduce':
      return (2 * (n - 1)) / n;
    case 'all-gather':
    case 'reduce-scatter':
    case 'all-to-all':
      return (n - 1) / n;
    case 'broadcast':
    case 'send':
    case 'recv':
      return 1;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

const log2ceil = (n: number): number => Math.ceil(Math.log2(n));

/** Ring (or pairwise/direct) time on one group; never undefined. */
export function ringTime(kind: CollectiveKind, bytes: number, link: AxisLink): number {
  const n = link.size;
  if (n <= 1) return 0;
  const { alpha, beta } = link;
  switch (kind) {
    case 'all-reduce':
      return 2 * (n - 1) * alpha + ((2 * (n - 1)) / n) * bytes * beta;
    case 'all-gather':
    case 'reduce-scatter':
      return (n - 1) * alpha + ((n - 1) / n) * bytes * beta;
    case 'all-to-all':
      return (n - 1) * alpha + ((n - 1) / n) * bytes * link.alltoallBeta;
    case 'broadcast':
      return (n - 1) * alpha + bytes * beta;
    case 'send':
    case 'recv':
      return alpha + bytes * beta;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** Tree time on one group, or undefined where NCCL has no tree for the kind. */
export function treeTime(kind: CollectiveKind, bytes: number, link: AxisLink): number | undefined {
  const n = link.size;
  if (n <= 1) return 0;
  switch (kind) {
    case 'all-reduce':
      return 2 * log2ceil(n) * link.alpha + 2 * bytes * link.beta;
    case 'broadcast':
      return log2ceil(n) * (link.alpha + bytes * link.beta);
    case 'all-gather':
    case 'reduce-scatter':
    case 'all-to-all':
    case 'send':
    case 'recv':
      return undefined;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** Best single-group time (ring or tree). */
function bestFlat(kind: CollectiveKind, bytes: number, link: AxisLink): number {
  const tree = treeTime(kind, bytes, link);
  const ring = ringTime(kind, bytes, link);
  return tree === undefined ? ring : Math.min(ring, tree);
}

/** Axis by axis over ≥ 2 axes, or undefined where the kind has no hierarchical form here. */
export function hierarchicalTime(kind: CollectiveKind, bytes: number, axes: readonly AxisLink[]): number | undefined {
  const active = axes.filter((a) => a.size > 1);
  if (active.length < 2) return undefined;
  const fastFirst = [...active].sort((a, b) => a.beta - b.beta);
  const slowFirst = [...fastFirst].reverse();
  switch (kind) {
    case 'all-reduce': {
      // reduce-scatter on all but the slowest axis, all-reduce the shard there, all-gather back.
      let t = 0;
      let size = bytes;
      const inner = fastFirst.slice(0, -1);
      for (const a of inner) {
        t += 2 * ringTime('reduce-scatter', size, a); // the all-gather back costs the same
        size /= a.size;
      }
      const outer = fastFirst[fastFirst.length - 1];
      return outer ? t + bestFlat('all-reduce', size, outer) : t;
    }
    case 'all-gather': {
      // slow axis first: its output is the smallest.
      let t = 0;
      let out = bytes / active.reduce((p, a) => p * a.size, 1);
      for (const a of slowFirst) {
        out *= a.size;
        t += ringTime('all-gather', out, a);
      }
      return t;
    }
    case 'reduce-scatter': {
      // fast axis first, on the whole input; the slow axes see the shrunken rest.
      let t = 0;
      let input = bytes;
      for (const a of fastFirst) {
        t += ringTime('reduce-scatter', input, a);
        input /= a.size;
      }
      return t;
    }
    case 'broadcast':
      return slowFirst.reduce((t, a) => t + bestFlat('broadcast', bytes, a), 0);
    case 'all-to-all':
    case 'send':
    case 'recv':
      return undefined;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

export function collectiveTime(op: CollectiveOp, group: CommGroup): CollectiveEstimate {
  if (!(op.bytes >= 0)) throw new RangeError(`collective bytes must be >= 0, got ${op.bytes}`);
  const flat = group.flat;
  const n = flat.size;
  const busBytes = op.bytes * busBandwidthFactor(op.kind, n);
  if (n <= 1) return { seconds: 0, algorithm: 'none', busBytes: 0 };
  // A send over a group is a permute: every device sends its block to one peer at once.
  // Peers on other hosts share the host's port as an all-to-all's do (k devices of a
  // group on a host, n - k outside it), so the all-to-all's β applies, not the ring's:
  // on [8, 8] of 8x8 hosts, moving a split from the cross-host axis to the in-host one
  // sends 7 of each host's 8 blocks through its one port (β_a2a = 64/9 · 1/bandwidth).
  if (op.kind === 'send' || op.kind === 'recv') return { seconds: ringTime(op.kind, op.bytes, { ...flat, beta: flat.alltoallBeta }), algorithm: 'direct', busBytes };

  const candidates: { algorithm: CollectiveAlgorithm; seconds: number }[] = [{ algorithm: 'ring', seconds: ringTime(op.kind, op.bytes, flat) }];
  const tree = treeTime(op.kind, op.bytes, flat);
  if (tree !== undefined) candidates.push({ algorithm: 'tree', seconds: tree });
  const hier = hierarchicalTime(op.kind, op.bytes, group.axes);
  if (hier !== undefined) candidates.push({ algorithm: 'hierarchical', seconds: hier });

  const wanted = op.algorithm ?? 'auto';
  if (wanted !== 'auto') {
    const c = candidates.find((x) => x.algorithm === wanted);
    if (!c) {
      throw new AutoparError('E_INTERNAL', `no ${wanted} algorithm for ${op.kind} over ${group.axes.length} axis(es); available: ${candidates.map((x) => x.algorithm).join(', ')}`);
    }
    return { ...c, busBytes };
  }
  const best = candidates.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  return { ...best, busBytes };
}

/** A group from axis links alone, when the cluster's flat link is not at hand: slowest α and β (conservative). */
export function groupOf(axes: readonly AxisLink[]): CommGroup {
  const [only] = axes;
  if (axes.length === 1 && only) return { axes, flat: only };
  const flat: AxisLink = {
    size: axes.reduce((p, a) => p * a.size, 1),
    alpha: Math.max(0, ...axes.map((a) => a.alpha)),
    beta: Math.max(0, ...axes.map((a) => a.beta)),
    alltoallBeta: Math.max(0, ...axes.map((a) => a.alltoallBeta)),
  };
  return { axes, flat };
}
