/**
 * α-β of a collective over groups of devices, from the physical topology.
 *
 * Model (see docs/cluster.md): inside a host every device has its own link of
 * `intraHost.bandwidth` per direction (NVLink through NVSwitch: no sharing). Between
 * hosts, each host has ONE network port of `interHost.bandwidth` per direction, shared
 * by all groups that cross hosts at the same time. Collectives along a mesh axis run on
 * all groups of that axis at once (SPMD), so a host's port carries one ring stream per
 * crossing group that touches it: the per-axis β multiplies the network's seconds per
 * byte by that number. A ring is laid out host by host, so it crosses each host's port
 * once per step whatever the number of the group's devices on that host. All-to-all
 * has no such luck: k devices of a group on one host send to the n-k outside it, so
 * `alltoallBeta` charges k(n-k)/(n-1) streams per group.
 */
import type { Cluster, Link } from './types.js';
import { AutoparError } from '../errors.js';

/** What the cost model needs of a communicating group: its size and α-β. */
export interface AxisLink {
  readonly size: number;
  /** Seconds per message (one step of a collective). */
  readonly alpha: number;
  /** Seconds per byte, for ring-style steps (one stream per crossing of a host). */
  readonly beta: number;
  /** Seconds per byte, for all-to-all (every device sends to every other). */
  readonly alltoallBeta: number;
  /** Which links the groups use, when known (a cluster's meshes); a calibrated model replaces 'intra-host' ones. */
  readonly link?: LinkKind;
}

export type LinkKind = 'none' | 'intra-host' | 'inter-host' | 'mixed';

export interface GroupLink extends AxisLink {
  /** Which links the groups use: one host, one device per host, or several of each. */
  readonly link: LinkKind;
  /** Most hosts one group spans. */
  readonly hosts: number;
  /** Most devices of one group on one host. */
  readonly devicesPerHost: number;
  /** Most crossing groups sharing one host's network port. */
  readonly sharedNic: number;
}

function intraLink(cluster: Cluster, host: number): Link {
  const h = cluster.hosts[host];
  const g = h === undefined ? undefined : cluster.groups[h.group];
  if (!g) throw new AutoparError('E_INTERNAL', `host ${host} not in cluster ${cluster.file}`);
  return g.intraHost;
}

function interLink(cluster: Cluster): Link {
  if (!cluster.interHost) throw new AutoparError('E_INTERNAL', `cluster ${cluster.file} has one host but a group spans hosts`);
  return cluster.interHost;
}

function hostOf(cluster: Cluster, device: number): number {
  const d = cluster.devices[device];
  if (!d) throw new AutoparError('E_CLUSTER', `device ${device} is not in ${cluster.file} (it has ${cluster.devices.length} devices)`);
  return d.host;
}

/** α-β for running one collective on each of `groups` at the same time (all of equal size). */
export function groupLink(cluster: Cluster, groups: readonly (readonly number[])[]): GroupLink {
  const size = groups[0]?.length ?? 1;
  if (groups.some((g) => g.length !== size)) throw new AutoparError('E_INTERNAL', 'groups of one collective must have equal sizes');
  if (size <= 1) return { size: 1, alpha: 0, beta: 0, alltoallBeta: 0, link: 'none', hosts: 1, devicesPerHost: 1, sharedNic: 0 };

  const perGroup = groups.map((g) => {
    const counts = new Map<number, number>();
    for (const d of g) {
      const h = hostOf(cluster, d);
      counts.set(h, (counts.get(h) ?? 0) + 1);
    }
    return counts;
  });
  const nicUsers = new Map<number, number>();
  for (const counts of perGroup) {
    if (counts.size < 2) continue;
    for (const h of counts.keys()) nicUsers.set(h, (nicUsers.get(h) ?? 0) + 1);
  }

  let alpha = 0;
  let beta = 0;
  let alltoallBeta = 0;
  let hosts = 1;
  let devicesPerHost = 1;
  let crossing = 0;
  for (const counts of perGroup) {
    const spans = counts.size > 1;
    hosts = Math.max(hosts, counts.size);
    if (spans) crossing++;
    for (const [h, k] of counts) {
      devicesPerHost = Math.max(devicesPerHost, k);
      if (k >= 2) {
        const intra = intraLink(cluster, h);
        alpha = Math.max(alpha, intra.latency);
        beta = Math.max(beta, 1 / intra.bandwidth);
        alltoallBeta = Math.max(alltoallBeta, 1 / intra.bandwidth);
      }
      if (spans) {
        const net = interLink(cluster);
        const users = nicUsers.get(h) ?? 1;
        alpha = Math.max(alpha, net.latency);
        beta = Math.max(beta, users / net.bandwidth);
        alltoallBeta = Math.max(alltoallBeta, (users * k * (size - k)) / (size - 1) / net.bandwidth);
      }
    }
  }
  const link: LinkKind = crossing === 0 ? 'intra-host' : devicesPerHost === 1 && crossing === groups.length ? 'inter-host' : 'mixed';
  const sharedNic = Math.max(0, ...nicUsers.values());
  return { size, alpha, beta, alltoallBeta, link, hosts, devicesPerHost, sharedNic };
}

/**
 * α-β for moving one tensor from the devices `from` to the devices `to` (a pipeline
 * stage boundary), its bytes spread evenly over the senders: the pairs work in parallel,
 * limited by the devices' links and, across hosts, by the hosts' network ports.
 */
export function transferLink(cluster: Cluster, from: readonly number[], to: readonly number[]): { readonly alpha: number; readonly beta: number } {
  if (from.length === 0 || to.length === 0) throw new AutoparError('E_INTERNAL', 'transferLink needs devices on both sides');
  const pairs = Math.min(from.length, to.length);
  const fromHosts = new Set(from.map((d) => hostOf(cluster, d)));
  const toHosts = new Set(to.map((d) => hostOf(cluster, d)));
  const slowestIntra = Math.min(...[...fromHosts, ...toHosts].map((h) => intraLink(cluster, h).bandwidth));
  const sameHost = fromHosts.size === 1 && toHosts.size === 1 && [...fromHosts][0] === [...toHosts][0];
  const maxIntraLatency = Math.max(...[...fromHosts, ...toHosts].map((h) => intraLink(cluster, h).latency));
  if (sameHost) return { alpha: maxIntraLatency, beta: 1 / (pairs * slowestIntra) };
  const net = interLink(cluster);
  const ports = Math.min(fromHosts.size, toHosts.size);
  return { alpha: Math.max(net.latency, maxIntraLatency), beta: 1 / Math.min(pairs * slowestIntra, ports * net.bandwidth) };
}
