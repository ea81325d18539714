/**
 * Where stages go: the logical meshes a stage may take on a submesh, and the devices
 * each stage of a plan gets.
 */
import { logicalMesh, type LogicalMesh } from '../../src/cluster/mesh.js';
import type { Submesh } from '../../src/cluster/submesh.js';
import type { Cluster } from '../../src/cluster/types.js';

/**
 * Logical meshes a stage may take on a submesh: the 1-D mesh, and 2-D meshes whose
 * minor axis (t devices) stays inside a host: data parallelism over s/t, tensor
 * parallelism over t on the fast links. 3-D meshes and minor axes that cross hosts
 * are left out: they multiply the candidates (and their solve time) for shapes that
 * rarely win a stage.
 */
export function stageMeshes(cluster: Cluster, sm: Submesh): LogicalMesh[] {
  const s = sm.size;
  const perHost = sm.shape[1];
  const shapes: number[][] = [[s]];
  for (let t = 2; t < s; t++) if (perHost % t === 0 && s % t === 0) shapes.push([s / t, t]);
  return shapes.map((shape) => logicalMesh(cluster, shape, sm.devices));
}

/** Greedy placement: whole-host stages on whole hosts, smaller ones packed inside hosts. */
export function place(cluster: Cluster, sizes: readonly number[]): number[][] | undefined {
  const perHost = cluster.hosts[0]?.devices.length ?? 1;
  const free = cluster.hosts.map((h) => [...h.devices]);
  const order = sizes.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0]);
  const out: number[][] = sizes.map(() => []);
  for (const [size, i] of order) {
    if (size >= perHost) {
      if (size % perHost !== 0) return undefined;
      const hosts = free.map((f, h) => [f, h] as const).filter(([f]) => f.length === perHost).slice(0, size / perHost);
      if (hosts.length < size / perHost) return undefined;
      out[i] = hosts.flatMap(([f, h]) => {
        free[h] = [];
        return f;
      });
    } else {
      const h = free.findIndex((f) => f.length >= size);
      if (h < 0) return undefined;
      out[i] = (free[h] ?? []).slice(0, size);
      free[h] = (free[h] ?? []).slice(size);
    }
  }
  return out;
}
