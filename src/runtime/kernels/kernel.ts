/** The tfjs lowering of one op: local tensors in, local tensors out. */
import type { HostTensor } from '../../ir/host-tensor.js';
import type { Node } from '../../ir/types.js';
import type { ConcreteType } from '../../ops/op.js';
import type { tf } from '../backend.js';

export interface KernelContext {
  readonly node: Node;
  readonly opset: number;
  readonly inputs: readonly (ConcreteType | undefined)[];
  /** Output types from shape inference: kernels reshape to them rather than recompute. */
  readonly outputs: readonly ConcreteType[];
  /** Host value of input i when it is a compile-time constant. */
  constant(i: number): HostTensor | undefined;
}

export type Kernel = (x: readonly (tf.Tensor | undefined)[], k: KernelContext) => tf.Tensor[];

export function need(x: readonly (tf.Tensor | undefined)[], i: number, k: KernelContext): tf.Tensor {
  const t = x[i];
  if (!t) throw new Error(`node '${k.node.name}' (${k.node.op}): input ${i} is missing`);
  return t;
}

export function outShape(k: KernelContext, i = 0): number[] {
  const t = k.outputs[i];
  if (!t) throw new Error(`node '${k.node.name}' (${k.node.op}): output ${i} has no type`);
  return [...t.shape];
}
