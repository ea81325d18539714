/**
 * Submeshes a pipeline stage may occupy (Alpa's rule, generalised): inside one host,
 * 1, 2, 4, ... devices plus every divisor of the host size (so a host of 6 gives
 * 1, 2, 3, 4, 6), and whole hosts 1..H of one group. A stage never mixes device types:
 * heterogeneous clusters list submeshes per group.
 */
import type { Cluster } from './types.js';

export interface Submesh {
  /** [hosts, devices per host]. */
  readonly shape: readonly [number, number];
  readonly size: number;
  readonly group: number;
  readonly deviceType: string;
  /** One placement (the first hosts of the group, the first devices of each). */
  readonly devices: readonly number[];
  /** How many disjoint copies fit in the group. */
  readonly placements: number;
}

/** Device counts a stage may use inside one host of `m` devices. */
export function inHostSizes(m: number): number[] {
  const sizes = new Set<number>();
  for (let s = 1; s <= m; s *= 2) sizes.add(s);
  for (let d = 1; d <= m; d++) if (m % d === 0) sizes.add(d);
  return [...sizes].sort((a, b) => a - b);
}

export function submeshes(cluster: Cluster): Submesh[] {
  const out: Submesh[] = [];
  for (const g of cluster.groups) {
    const hostIds = cluster.hosts.filter((h) => h.group === g.index);
    const pick = (hosts: number, perHost: number): number[] => hostIds.slice(0, hosts).flatMap((h) => h.devices.slice(0, perHost));
    const base = { group: g.index, deviceType: g.device.name };
    for (const s of inHostSizes(g.devicesPerHost)) {
      out.push({ ...base, shape: [1, s], size: s, devices: pick(1, s), placements: g.hosts * Math.floor(g.devicesPerHost / s) });
    }
    for (let k = 2; k <= g.hosts; k++) {
      out.push({ ...base, shape: [k, g.devicesPerHost], size: k * g.devicesPerHost, devices: pick(k, g.devicesPerHost), placements: Math.floor(g.hosts / k) });
    }
  }
  return out;
}
