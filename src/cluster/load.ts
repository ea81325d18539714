/**
 * cluster.yaml -> Cluster. Every error is one AutoparError('E_CLUSTER') of the form
 * `FILE:LINE: KEY.PATH: what was wrong; what is expected`, the first problem found.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isNode, parseDocument, type Document } from 'yaml';
import { AutoparError } from '../errors.js';
import { clusterSchema, describeIssue, show, type RawCluster } from './schema.js';
import type { Cluster, Device, DeviceType, Host, HostGroup, Link } from './types.js';

const TOP_KEYS = 'hosts, devicesPerHost, device, intraHost, interHost (or groups)';

/** `groups[1].device` from ['groups', 1, 'device']. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out === '' ? '' : '.'}${String(p)}`;
  return out === '' ? '(top level)' : out;
}

/** Line of the deepest node of `path` present in the document (a missing key: its parent map). */
function lineOf(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = doc.getIn(path.slice(0, n), true);
    const offset = isNode(node) ? node.range?.[0] : undefined;
    if (offset !== undefined) return lines.linePos(offset).line;
  }
  return undefined;
}

class ClusterFileError {
  constructor(
    readonly path: readonly PropertyKey[],
    readonly message: string,
  ) {}
}

function need<T>(value: T | undefined, path: readonly PropertyKey[], message: string): T {
  if (value === undefined) throw new ClusterFileError(path, message);
  return value;
}

export interface GroupSpec {
  readonly name: string;
  readonly hosts: number;
  readonly devicesPerHost: number;
  readonly device: DeviceType;
  readonly intraHost: Link;
}

/** Resolves groups (or the single implicit one) and checks the keys that depend on others. */
function resolve(raw: RawCluster): { readonly groups: readonly GroupSpec[]; readonly interHost: Link | undefined } {
  let groups: GroupSpec[];
  if (raw.groups !== undefined) {
    groups = raw.groups.map((g, i): GroupSpec => {
      const at = (key: string): PropertyKey[] => ['groups', i, key];
      const inherit = (key: string, form: string) => `missing, and there is no top-level ${key} to inherit; expected ${form}`;
      return {
        name: g.name ?? `group${i}`,
        hosts: need(g.hosts, at('hosts'), 'missing; expected a positive integer (hosts in this group)'),
        devicesPerHost: need(g.devicesPerHost ?? raw.devicesPerHost, at('devicesPerHost'), inherit('devicesPerHost', 'a positive integer, e.g. 8')),
        device: need(g.device ?? raw.device, at('device'), inherit('device', 'a preset name such as A100-80GB or the figures in full')),
        intraHost: need(g.intraHost ?? raw.intraHost, at('intraHost'), inherit('intraHost', "a map like {bandwidth: 300GB/s, latency: 5us} or a preset such as nvlink3")),
      };
    });
    const sum = groups.reduce((s, g) => s + g.hosts, 0);
    if (raw.hosts !== undefined && raw.hosts !== sum) {
      throw new ClusterFileError(
        ['hosts'],
        `is ${raw.hosts} but the groups add up to ${sum} host${sum === 1 ? '' : 's'} (${groups.map((g) => g.hosts).join(' + ')}); make them agree or drop the top-level hosts`,
      );
    }
  } else {
    const missing = (form: string) => `missing; expected ${form} (a cluster needs ${TOP_KEYS})`;
    groups = [
      {
        name: raw.name ?? 'hosts',
        hosts: need(raw.hosts, ['hosts'], missing('a positive integer, the number of hosts')),
        devicesPerHost: need(raw.devicesPerHost, ['devicesPerHost'], missing('a positive integer, e.g. 8')),
        device: need(raw.device, ['device'], missing('a preset name such as A100-80GB or the figures in full')),
        intraHost: need(raw.intraHost, ['intraHost'], missing("a map like {bandwidth: 300GB/s, latency: 5us} or a preset such as nvlink3")),
      },
    ];
  }
  const hosts = groups.reduce((s, g) => s + g.hosts, 0);
  const interHost =
    hosts > 1
      ? need(raw.interHost, ['interHost'], `missing; ${hosts} hosts need the network between them: a map like {bandwidth: 200Gb/s, latency: 10us} or a preset such as ib-hdr`)
      : raw.interHost;
  return { groups, interHost };
}

function build(file: string, raw: RawCluster): Cluster {
  const { groups: specs, interHost } = resolve(raw);
  return assembleCluster(file, raw.name ?? file, specs, interHost);
}

/** Host and device ids of validated groups, host-major (also what resizeCluster builds with). */
export function assembleCluster(file: string, name: string, specs: readonly GroupSpec[], interHost: Link | undefined): Cluster {
  const groups: HostGroup[] = [];
  const hosts: Host[] = [];
  const devices: Device[] = [];
  for (const [index, g] of specs.entries()) {
    groups.push({ index, ...g, firstHost: hosts.length });
    for (let h = 0; h < g.hosts; h++) {
      const id = hosts.length;
      const ids: number[] = [];
      for (let local = 0; local < g.devicesPerHost; local++) {
        ids.push(devices.length);
        devices.push({ id: devices.length, host: id, local, group: index });
      }
      hosts.push({ id, group: index, devices: ids });
    }
  }
  return { file, name, groups, hosts, devices, interHost };
}

/** Parses and validates the text of a cluster file; `fileName` appears in messages. */
export function parseCluster(text: string, fileName: string): Cluster {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const fail = (path: readonly PropertyKey[], message: string): never => {
    const line = lineOf(doc, lines, path);
    throw new AutoparError('E_CLUSTER', `${fileName}${line === undefined ? '' : `:${line}`}: ${formatPath(path)}: ${message}`);
  };
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = syntax.linePos?.[0];
    const where = pos ? `:${pos.line}:${pos.col}` : '';
    if (syntax.code === 'DUPLICATE_KEY') {
      // yaml says only "Map keys must be unique": name the key, as every other error does.
      const key = /^\s*"?([^":\n]+?)"?\s*:/.exec(text.slice(syntax.pos[0]))?.[1];
      throw new AutoparError('E_CLUSTER', `${fileName}${where}: ${key === undefined ? 'a key' : `'${key}'`} is given twice in the same map; keep one`);
    }
    const first = (syntax.message.split('\n')[0] ?? syntax.message).replace(/ at line \d+, column \d+:?$/, '');
    throw new AutoparError('E_CLUSTER', `${fileName}${where}: YAML syntax error: ${first}`);
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return fail([], `the file is empty; expected a map with ${TOP_KEYS} (see docs/cluster.md)`);
  if (!isMap(doc.contents)) return fail([], `expected a map with ${TOP_KEYS}, got ${show(data)}`);
  const parsed = clusterSchema.safeParse(data);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    if (!first) return fail([], 'invalid cluster description');
    const d = describeIssue(first);
    return fail(d.path, d.message);
  }
  try {
    return build(fileName, parsed.data);
  } catch (e) {
    if (e instanceof ClusterFileError) return fail(e.path, e.message);
    throw e;
  }
}

/** Reads and parses a cluster file. */
export function loadCluster(path: string): Cluster {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : 'unreadable';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code;
    throw new AutoparError('E_CLUSTER', `${path}: cannot read cluster file (${why}); see examples/clusters/ for the form`);
  }
  return parseCluster(text, path);
}

/** The device type of a device id. */
export function deviceType(cluster: Cluster, device: number): DeviceType {
  const d = cluster.devices[device];
  const g = d === undefined ? undefined : cluster.groups[d.group];
  if (!g) throw new AutoparError('E_CLUSTER', `device ${device} is not in ${cluster.file} (it has ${cluster.devices.length} devices)`);
  return g.device;
}
