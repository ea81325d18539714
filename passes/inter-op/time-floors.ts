/**
 * Floors under what a layer can cost on a mesh, for rejecting a micro-batch count before
 * all its meshes are priced (see pipeline.ts). Under a cost model whose compute time of
 * an op's 1/n share is at least 1/n of the whole op's (CostModel.computeScalesDown: the
 * roofline, linear in flops and bytes), no layout on n devices runs a layer in less than
 * its time on one device divided by n: every device does at least 1/n of each op's flops
 * and bytes, and communication only adds. No layout holds less than its bytes / n either.
 */
import type { Submesh } from '../../src/cluster/submesh.js';

/** What the stage problem reads of a layer on a mesh (a priced LayerOnMesh, or its floor). */
export interface LayerCost {
  /** Per micro-batch. */
  readonly seconds: number;
  /** Once per step. */
  readonly stepSeconds: number;
  readonly staticBytes: number;
  readonly activationBytes: number;
}

/** A mesh's layers as the stage problem reads them: undefined where a layer has no plan. */
export interface MeshCosts {
  readonly submesh: Submesh;
  readonly layers: readonly (LayerCost | undefined)[];
  /** Resharding between layer l and l + 1. */
  readonly joins: readonly number[];
}

/** Each layer's floor on `devices` devices, from its time on one device and its bytes unsharded. */
export function layerFloors(oneDevice: readonly LayerCost[], devices: number): LayerCost[] {
  return oneDevice.map((c) => ({ seconds: c.seconds / devices, stepSeconds: c.stepSeconds / devices, staticBytes: c.staticBytes / devices, activationBytes: c.activationBytes / devices }));
}
