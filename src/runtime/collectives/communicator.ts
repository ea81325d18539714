/**
 * One interface for collective communication between the device workers of a run, whatever
 * moves the bytes (worker threads over SharedArrayBuffer, or MPI processes).
 *
 * Semantics shared by every transport:
 * - A `group` is a sorted, duplicate-free list of global ranks that includes the caller.
 *   Every member calls the same collective, with the same group and sizes, in the same
 *   order (a mesh axis gives such groups). Transports check sizes where they can and
 *   report a mismatch as an error rather than returning garbage.
 * - Element types: Float32Array and Int32Array (sums of Int32 wrap around, as in MPI).
 * - `allReduce` and `broadcast` work IN PLACE: they overwrite `buf` and resolve to that same
 *   array (no copy of a 64 MiB gradient). The others return a new array.
 * - `allGather`, `reduceScatter` and `allToAll` move equal chunks: a shard of m elements
 *   gathers to n*m; `reduceScatter` and `allToAll` need a length divisible by the group size.
 *   `allReduce`, `broadcast` and send/recv take any length.
 * - `send` may block until the matching `recv` has started (MPI's synchronous-send rule):
 *   a program must be correct when every send waits for its receiver.
 * - `label` names what a call serves (e.g. the instruction of the device program); errors
 *   name the rank, the kind and the label.
 *
 * Counting (see `CollectiveCounts`): every completed call adds 1 to its kind's `count` and
 * its size to `bytes`, following nccl-tests as ../shared/CLI.md defines `bytes`:
 *   all-reduce     the full buffer on each rank            (buf.byteLength)
 *   all-gather     the gathered output                     (n * shard.byteLength)
 *   reduce-scatter the input before scattering             (buf.byteLength)
 *   all-to-all     what each rank holds                    (buf.byteLength)
 *   broadcast      the buffer                              (buf.byteLength, as nccl-tests)
 *   send / recv    the message                             (its byteLength)
 *   barrier        0 bytes (counted, moves nothing)
 */

export type Buf = Float32Array | Int32Array;
export type Group = readonly number[];

export const COLLECTIVE_KINDS = [
  'all-reduce',
  'all-gather',
  'reduce-scatter',
  'all-to-all',
  'broadcast',
  'send',
  'recv',
  'barrier',
] as const;
export type CollectiveKind = (typeof COLLECTIVE_KINDS)[number];

export interface KindCount {
  count: number;
  bytes: number;
}
/** Per kind; kinds never called are absent. */
export type CollectiveCounts = Partial<Record<CollectiveKind, KindCount>>;

export interface Communicator {
  /** Global rank of this worker, 0..size-1. */
  readonly rank: number;
  /** Number of workers in the run. */
  readonly size: number;
  /** All ranks [0..size-1], the group of a collective over every worker. */
  readonly world: Group;
  /** Name of the transport ('threads', 'mpi'), for messages. */
  readonly transport: string;

  /** Sum over the group, in place: resolves to `buf` itself. */
  allReduce<T extends Buf>(buf: T, group: Group, label?: string): Promise<T>;
  /** Concatenation of every member's shard in group order (n * shard.length elements). */
  allGather<T extends Buf>(shard: T, group: Group, label?: string): Promise<T>;
  /** Sum over the group of `buf`, then member i keeps chunk i (buf.length / n elements). */
  reduceScatter<T extends Buf>(buf: T, group: Group, label?: string): Promise<T>;
  /** Member i sends chunk j of its buffer to member j; chunk j of the result came from member j. */
  allToAll<T extends Buf>(buf: T, group: Group, label?: string): Promise<T>;
  /** Copies `root`'s buffer (a global rank in the group) into every member's `buf`, in place. */
  broadcast<T extends Buf>(buf: T, root: number, group: Group, label?: string): Promise<T>;
  /** Sends `buf` to global rank `peer`; tags are integers 0..32767. */
  send(buf: Buf, peer: number, tag: number, label?: string): Promise<void>;
  /** Receives `length` float32 elements sent by `peer` with `tag`. */
  recv(peer: number, tag: number, length: number, label?: string): Promise<Float32Array>;
  /** Receives into `out` (its type and length must match the message); resolves to `out`. */
  recvInto<T extends Buf>(out: T, peer: number, tag: number, label?: string): Promise<T>;
  /** Returns once every member of the group has called it. */
  barrier(group: Group, label?: string): Promise<void>;

  /** A copy of the counts so far. */
  counts(): CollectiveCounts;
}

/** The program a worker runs: one per device, given its communicator and its arguments. */
export type WorkerProgram<A = unknown, R = unknown> = (comm: Communicator, args: A) => R | Promise<R>;
