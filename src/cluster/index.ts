/** Cluster descriptions: cluster.yaml, device presets, logical meshes and submeshes. */
export type { Cluster, Device, DeviceType, Dtype, Efficiency, Host, HostGroup, Link } from './types.js';
export { DTYPES } from './types.js';
export { DEVICE_PRESETS, INTER_HOST_PRESETS, INTRA_HOST_PRESETS } from './presets.js';
export { parseQuantity, type QuantityKind } from './units.js';
export { deviceType, loadCluster, parseCluster } from './load.js';
export { groupLink, transferLink, type AxisLink, type GroupLink, type LinkKind } from './links.js';
export { axisGroups, commGroup, logicalMesh, logicalMeshes, meshShapes, type CommGroup, type LogicalMesh, type MeshAxis } from './mesh.js';
export { inHostSizes, submeshes, type Submesh } from './submesh.js';
export { formatClusterSummary, summarizeCluster, type ClusterSummary } from './summary.js';
