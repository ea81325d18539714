/** Every op's tfjs lowering, by ONNX type (a test walks the op registry against this). */
import { convKernels } from './conv.js';
import { elementwiseKernels } from './elementwise.js';
import { gatherKernels } from './gather.js';
import type { Kernel } from './kernel.js';
import { matmulKernels } from './matmul.js';
import { normKernels } from './norm.js';
import { reduceKernels } from './reduce.js';
import { shapeKernels } from './shape.js';

export const KERNELS: ReadonlyMap<string, Kernel> = new Map(
  Object.entries({ ...elementwiseKernels, ...matmulKernels, ...convKernels, ...normKernels, ...reduceKernels, ...shapeKernels, ...gatherKernels }),
);
export type { Kernel, KernelContext } from './kernel.js';
