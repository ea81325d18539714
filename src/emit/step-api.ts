/**
 * What a printed device module (print.ts) expects from the runtime that runs it:
 * `export async function step({ tf, comm, weights, inputs, kernels, optimizer })`.
 * Written down as types so the adapter the runtime builds over the collective
 * library's Communicator (flat Float32Array/Int32Array buffers) is checked against the
 * calls the printer writes. T is the tensor type (tf.Tensor).
 */

/** Collectives on tensors: the adapter flattens, calls the Communicator, reshapes. */
export interface TensorComm<T> {
  allReduce(t: T, group: readonly number[], label: string): Promise<T>;
  /** Concatenates the members' tensors along `axis`. */
  allGather(t: T, group: readonly number[], axis: number, label: string): Promise<T>;
  /** Sums, then keeps this member's slice along `axis`. */
  reduceScatter(t: T, group: readonly number[], axis: number, label: string): Promise<T>;
  allToAll(t: T, group: readonly number[], splitAxis: number, concatAxis: number, label: string): Promise<T>;
  broadcast(t: T, root: number, group: readonly number[], label: string): Promise<T>;
  send(t: T, peer: number, tag: number, label: string): Promise<void>;
  recv(peer: number, tag: number, shape: readonly number[], dtype: string, label: string): Promise<T>;
}

export interface StepContext<T> {
  /** The tfjs namespace (tf.matMul, tf.add, tf.zeros, ...). */
  readonly tf: unknown;
  readonly comm: TensorComm<T>;
  readonly weights: { load(path: string, offset: number, length: number, shape: readonly number[], dtype: string): Promise<T> };
  readonly inputs: { get(name: string, mb: number | null): T };
  /** Ops without a direct tf call, by op type: outputs in order (one tensor for one output). */
  readonly kernels: Readonly<Record<string, (tf: unknown, inputs: readonly T[], attrs: unknown) => T | readonly T[]>>;
  /** Returns the new parameter, then the new states, in the order given. */
  readonly optimizer: { update(kind: string, param: T, grad: T, states: readonly T[], label: string): readonly T[] };
}

/** The printed module's `step`: resolves to the program's outputs by tensor name. */
export type StepFunction<T> = (ctx: StepContext<T>) => Promise<Readonly<Record<string, T>>>;
