/** Device meshes, sharding specs, their verifier, and resharding between specs. */
export { axisSize, deviceMesh, meshFromLogical, meshToString, type DeviceMesh, type MeshAxisLink, type MeshAxisShape, type MeshShape } from './mesh.js';
export { parseSpec, replicated, shardBytes, shardShape, specEquals, specKey, specToString, splitFactor, type ShardingSpec } from './spec.js';
export { isLegalSharding, shardingProblem, verifySharding, type VerifyContext } from './verify.js';
export { legalSpecs } from './enumerate.js';
export { collectiveOf, type StepKind } from './steps.js';
export { createResharder, reshard, type ResharderOptions, type ReshardPlan, type ReshardStep, type Resharder, type ResharderStats } from './reshard.js';
