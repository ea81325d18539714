/** Every op autopar understands, by ONNX type. Adding an op: its family file plus nothing here. */
import { AutoparError } from '../errors.js';
import type { Node } from '../ir/types.js';
import { convOps } from './conv.js';
import { elementwiseOps } from './elementwise.js';
import { gatherOps } from './gather.js';
import { matmulOps } from './matmul.js';
import { normOps } from './norm.js';
import type { Op } from './op.js';
import { reduceOps } from './reduce.js';
import { shapeOps } from './shape.js';

export const ALL_OPS: readonly Op[] = [...elementwiseOps, ...matmulOps, ...convOps, ...normOps, ...reduceOps, ...shapeOps, ...gatherOps];

const BY_TYPE: ReadonlyMap<string, Op> = new Map(ALL_OPS.map((o) => [o.type, o]));

export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

export function supportedOps(): string[] {
  return [...BY_TYPE.keys()].sort();
}

export function findOp(type: string): Op | undefined {
  return BY_TYPE.get(type);
}

export function opFor(node: Node, opset: number): Op {
  const op = node.domain === '' ? BY_TYPE.get(node.op) : undefined;
  if (!op) {
    const dom = node.domain === '' ? 'ai.onnx' : node.domain;
    throw new AutoparError(
      'E_UNSUPPORTED_OP',
      `unsupported op '${node.op}' (domain ${dom}, opset ${opset}) at node '${node.name}'; supported: ${supportedOps().join(', ')}`,
    );
  }
  const [min, max] = op.arity;
  const given = node.inputs.length;
  if (given < min || given > max) {
    throw new AutoparError('E_GRAPH', `node '${node.name}' (${node.op}) has ${given} inputs; expected ${min === max ? min : `${min} to ${max}`}`);
  }
  return op;
}
