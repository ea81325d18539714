/**
 * The numbers the cost model takes and gives. Independent of the graph IR: the planner
 * turns each op into `{flops, bytes, dtype, kind}` and each collective into
 * `{kind, bytes}` over a group of mesh axes.
 */
import type { Dtype } from '../src/cluster/types.js';

export type { Dtype };

/** What kind of kernel an op runs: decides which peak and which efficiency apply. */
export type OpKind = 'matmul' | 'conv' | 'elementwise' | 'reduction' | 'normalization' | 'data-movement' | 'other';

export interface ComputeOp {
  /** Floating-point operations (a multiply-add counts 2). */
  readonly flops: number;
  /** Bytes read and written in device memory. */
  readonly bytes: number;
  readonly dtype: Dtype;
  readonly kind: OpKind;
}

export interface ComputeEstimate {
  readonly seconds: number;
  readonly computeSeconds: number;
  readonly memorySeconds: number;
  readonly bound: 'compute' | 'memory';
}

export type CollectiveKind = 'all-reduce' | 'all-gather' | 'reduce-scatter' | 'all-to-all' | 'broadcast' | 'send' | 'recv';

export const COLLECTIVE_KINDS: readonly CollectiveKind[] = ['all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all', 'broadcast', 'send', 'recv'];

export type CollectiveAlgorithm = 'ring' | 'tree' | 'hierarchical';

export interface CollectiveOp {
  readonly kind: CollectiveKind;
  /**
   * nccl-tests convention (CLI.md): all-reduce, the full buffer on each rank; all-gather,
   * the gathered output; reduce-scatter, the input before scattering; all-to-all, what
   * each rank holds; broadcast, the buffer; send/recv, the message.
   */
  readonly bytes: number;
  /** Default 'auto': the fastest algorithm available for this kind and group. */
  readonly algorithm?: CollectiveAlgorithm | 'auto';
}

export interface CollectiveEstimate {
  readonly seconds: number;
  /** 'none' for a group of one rank; 'direct' for send/recv. */
  readonly algorithm: CollectiveAlgorithm | 'direct' | 'none';
  /** nccl-tests "bus bytes": bytes × the bus-bandwidth factor of the kind (what each rank moves on the bottleneck link). */
  readonly busBytes: number;
}
