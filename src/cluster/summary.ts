/** What `autopar cluster` prints: the CLI.md fields (JSON) and a readable summary. */
import { logicalMeshes, type LogicalMesh } from './mesh.js';
import { submeshes } from './submesh.js';
import type { Cluster, DeviceType, Dtype, Link } from './types.js';
import { formatBandwidth, formatBytes, formatFlops, formatTime } from './units.js';

export interface ClusterSummary {
  readonly file: string;
  readonly name: string;
  readonly devices: number;
  readonly hosts: number;
  readonly deviceTypes: readonly {
    readonly name: string;
    readonly count: number;
    readonly peakFlops: Readonly<Partial<Record<Dtype, number>>>;
    readonly memoryBytes: number;
    readonly memoryBandwidth: number;
    readonly efficiency: DeviceType['efficiency'];
    readonly source: string | null;
  }[];
  readonly groups: readonly { readonly name: string; readonly hosts: number; readonly devicesPerHost: number; readonly device: string; readonly intraHost: Link }[];
  readonly interHost: Link | null;
  readonly meshes: readonly {
    readonly shape: readonly number[];
    readonly axes: readonly {
      readonly name: string;
      readonly size: number;
      readonly alpha: number;
      readonly beta: number;
      readonly alltoallBeta: number;
      readonly link: string;
      readonly hosts: number;
      readonly devicesPerHost: number;
      readonly sharedNic: number;
    }[];
  }[];
  readonly submeshes: readonly { readonly shape: readonly number[]; readonly group: number; readonly deviceType: string; readonly placements: number }[];
}

export function summarizeCluster(cluster: Cluster, meshes: readonly LogicalMesh[] = logicalMeshes(cluster)): ClusterSummary {
  const types = new Map<string, { type: DeviceType; count: number }>();
  for (const g of cluster.groups) {
    const t = types.get(g.device.name);
    if (t) t.count += g.hosts * g.devicesPerHost;
    else types.set(g.device.name, { type: g.device, count: g.hosts * g.devicesPerHost });
  }
  return {
    file: cluster.file,
    name: cluster.name,
    devices: cluster.devices.length,
    hosts: cluster.hosts.length,
    deviceTypes: [...types.values()].map(({ type, count }) => ({
      name: type.name,
      count,
      peakFlops: type.peakFlops,
      memoryBytes: type.memoryBytes,
      memoryBandwidth: type.memoryBandwidth,
      efficiency: type.efficiency,
      source: type.source ?? null,
    })),
    groups: cluster.groups.map((g) => ({ name: g.name, hosts: g.hosts, devicesPerHost: g.devicesPerHost, device: g.device.name, intraHost: g.intraHost })),
    interHost: cluster.interHost ?? null,
    meshes: meshes.map((m) => ({
      shape: m.shape,
      axes: m.axes.map((a) => ({
        name: a.name,
        size: a.size,
        alpha: a.alpha,
        beta: a.beta,
        alltoallBeta: a.alltoallBeta,
        link: a.link,
        hosts: a.hosts,
        devicesPerHost: a.devicesPerHost,
        sharedNic: a.sharedNic,
      })),
    })),
    submeshes: submeshes(cluster).map((s) => ({ shape: s.shape, group: s.group, deviceType: s.deviceType, placements: s.placements })),
  };
}

const link = (l: Link): string => `${formatBandwidth(l.bandwidth)} per direction, ${formatTime(l.latency)} latency`;

/** The human summary: a few lines per section, widths aligned. */
export function formatClusterSummary(s: ClusterSummary): string {
  const out: string[] = [];
  out.push(`${s.file}: ${s.devices} device${s.devices === 1 ? '' : 's'} on ${s.hosts} host${s.hosts === 1 ? '' : 's'}`);
  out.push('', 'devices:');
  for (const t of s.deviceTypes) {
    const flops = Object.entries(t.peakFlops)
      .map(([d, f]) => `${d} ${formatFlops(f)}`)
      .join(', ');
    out.push(`  ${t.count} x ${t.name}: ${formatBytes(t.memoryBytes)} at ${formatBandwidth(t.memoryBandwidth)}; peak ${flops}`);
    out.push(`    efficiency: matmul ${t.efficiency.matmul}, conv ${t.efficiency.conv}, memory ${t.efficiency.memory}`);
  }
  out.push('', 'links:');
  for (const g of s.groups) out.push(`  inside ${g.name} (${g.hosts} x ${g.devicesPerHost} ${g.device}): ${link(g.intraHost)} per device`);
  out.push(`  between hosts: ${s.interHost ? `${link(s.interHost)} per host` : 'none (one host)'}`);
  out.push('', 'logical meshes (per axis: size, links, alpha, bandwidth 1/beta):');
  const shapes = s.meshes.map((m) => `[${m.shape.join(', ')}]`);
  const width = Math.max(...shapes.map((x) => x.length));
  s.meshes.forEach((m, i) => {
    const axes = m.axes
      .map((a) => `${a.name}=${a.size} ${a.link}${a.sharedNic > 1 ? ` (NIC shared by ${a.sharedNic})` : ''} ${formatTime(a.alpha)}, ${a.beta > 0 ? formatBandwidth(1 / a.beta) : '-'}`)
      .join(' | ');
    out.push(`  ${(shapes[i] ?? '').padEnd(width)}  ${axes}`);
  });
  out.push('', 'submeshes for pipeline stages (hosts x devices, placements):');
  out.push('  ' + s.submeshes.map((m) => `${m.shape.join('x')} ${m.deviceType} (${m.placements})`).join(', '));
  return out.join('\n');
}
