/**
 * The same cluster at another size, for `autopar compare --devices`: the given cluster's
 * device type and intra-host link, hosts of its size (a size below one host is one
 * partial host), and its inter-host network, or a stated default when it has none.
 */
import { AutoparError } from '../errors.js';
import { assembleCluster } from './load.js';
import { findPreset, INTER_HOST_PRESETS } from './presets.js';
import type { Cluster, Link } from './types.js';

/** The network assumed between hosts when a one-host cluster is grown past one host. */
export const DEFAULT_INTER_HOST = 'ib-hdr';

export interface InterHostChoice {
  readonly link: Link;
  /** Where it comes from: the cluster file, a preset named by the caller, or the default preset. */
  readonly from: 'cluster' | 'option' | 'default';
  readonly name: string;
}

/** The inter-host link of a sweep: `preset` if given, else the cluster's, else DEFAULT_INTER_HOST. */
export function interHostFor(cluster: Cluster, preset: string | undefined): InterHostChoice {
  if (preset !== undefined) {
    const p = findPreset(INTER_HOST_PRESETS, preset);
    if (!p) throw new AutoparError('E_USAGE', `--inter-host '${preset}' is not a network preset; use one of ${Object.keys(INTER_HOST_PRESETS).join(', ')}`);
    return { link: p, from: 'option', name: preset };
  }
  if (cluster.interHost) return { link: cluster.interHost, from: 'cluster', name: cluster.file };
  const d = INTER_HOST_PRESETS[DEFAULT_INTER_HOST];
  if (!d) throw new AutoparError('E_INTERNAL', `preset ${DEFAULT_INTER_HOST} is missing`);
  return { link: d, from: 'default', name: DEFAULT_INTER_HOST };
}

export function resizeCluster(cluster: Cluster, devices: number, interHost: Link): Cluster {
  const [group, ...others] = cluster.groups;
  if (!group || others.length > 0) {
    throw new AutoparError('E_USAGE', `${cluster.file}: --devices sweeps a cluster of one device type and host size; this one has ${cluster.groups.length} host groups (give a cluster file with one)`);
  }
  const per = group.devicesPerHost;
  if (!Number.isInteger(devices) || devices < 1) throw new AutoparError('E_USAGE', `--devices ${devices}: a cluster size is a whole number of devices, at least 1`);
  if (devices > per && devices % per !== 0) {
    throw new AutoparError('E_USAGE', `--devices ${devices}: hosts of ${cluster.file} hold ${per} devices, so a size above ${per} must be a multiple of it (e.g. ${per}, ${2 * per}, ${4 * per}); a size up to ${per} is one host`);
  }
  const hosts = devices <= per ? 1 : devices / per;
  const spec = { name: group.name, hosts, devicesPerHost: Math.min(devices, per), device: group.device, intraHost: group.intraHost };
  return assembleCluster(`${cluster.file} at ${devices} devices`, `${cluster.name} (${hosts} x ${spec.devicesPerHost})`, [spec], hosts > 1 ? interHost : undefined);
}
