/**
 * The cluster.yaml form, validated with zod. Leaves convert units and check signs; a
 * device or link may be a preset name or a map, resolved here so that every message can
 * name the exact key. Keys that must be present depending on other keys (e.g.
 * `interHost` only with several hosts) are checked in load.ts.
 */
import * as z from 'zod';
import { DTYPES, type DeviceType, type Dtype, type Efficiency, type Link } from './types.js';
import { QUANTITY_FORMS, parseQuantity, type QuantityKind } from './units.js';
import { DEVICE_PRESETS, INTER_HOST_PRESETS, INTRA_HOST_PRESETS, findPreset, type LinkPreset } from './presets.js';

type Issue = z.core.$ZodRawIssue;
type Ctx = { issues: Issue[] };
type Check<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/** A short rendering of what the user wrote, for "got ..." in messages. */
export function show(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null (an empty value)';
  const text = typeof input === 'string' ? `'${input}'` : JSON.stringify(input) ?? String(input);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function issue(ctx: Ctx, message: string, input: unknown, path: readonly PropertyKey[] = []): void {
  ctx.issues.push({ code: 'custom', message, input, path: [...path] });
}

/** A leaf that may be absent (undefined) and otherwise must pass `check`. */
function leaf<T>(check: (v: unknown) => Check<T>) {
  return z.unknown().transform((v, ctx): T | undefined => {
    if (v === undefined) return undefined;
    const r = check(v);
    if (r.ok) return r.value;
    issue(ctx, r.message, v);
    return z.NEVER;
  }).optional();
}

export const COUNT_FORM = 'a positive integer';

function countCheck(what: string) {
  return (v: unknown): Check<number> =>
    typeof v === 'number' && Number.isInteger(v) && v >= 1
      ? { ok: true, value: v }
      : { ok: false, message: `expected ${COUNT_FORM} (${what}), got ${show(v)}` };
}

export function quantityCheck(kind: QuantityKind, sign: 'positive' | 'nonnegative') {
  const form = QUANTITY_FORMS[kind];
  return (v: unknown): Check<number> => {
    if (typeof v !== 'number' && typeof v !== 'string') return { ok: false, message: `expected ${form}, got ${show(v)}` };
    const p = parseQuantity(kind, v);
    if (!p.ok) return { ok: false, message: `${p.reason}; expected ${form}` };
    const good = sign === 'positive' ? p.value > 0 : p.value >= 0;
    if (!good) return { ok: false, message: `must be ${sign === 'positive' ? 'positive' : 'zero or more'}, got ${show(v)}; expected ${form}` };
    return { ok: true, value: p.value };
  };
}

const fractionCheck = (v: unknown): Check<number> =>
  typeof v === 'number' && v > 0 && v <= 1
    ? { ok: true, value: v }
    : { ok: false, message: `expected a fraction of the peak in (0, 1], e.g. 0.85, got ${show(v)}` };

const nameCheck = (v: unknown): Check<string> =>
  typeof v === 'string' && v.trim() !== '' ? { ok: true, value: v } : { ok: false, message: `expected a non-empty name, got ${show(v)}` };

/** Error map for maps: wrong type, or an unknown key (the formatter appends the key to the path). */
function mapError(keys: readonly string[]) {
  return (iss: Issue): string => {
    if (iss.code === 'unrecognized_keys') {
      const wrote = iss.keys[0] ?? '';
      const near = keys.find((k) => k.toLowerCase() === wrote.toLowerCase().replace(/[-_]/g, ''));
      return `unknown key${near ? ` (did you mean '${near}'?)` : ''}; keys allowed here: ${keys.join(', ')}`;
    }
    return `expected a map with keys ${keys.join(', ')}, got ${show(iss.input)}`;
  };
}

function strictMap<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.strictObject(shape, { error: mapError(Object.keys(shape)) });
}

/** Turns a zod issue into (path, message): unknown keys name the key itself. */
export function describeIssue(iss: z.core.$ZodIssue): { readonly path: readonly PropertyKey[]; readonly message: string } {
  if (iss.code === 'unrecognized_keys') {
    const extra = iss.keys.length > 1 ? ` (also unknown: ${iss.keys.slice(1).join(', ')})` : '';
    return { path: [...iss.path, iss.keys[0] ?? '?'], message: iss.message + extra };
  }
  return { path: iss.path, message: iss.message };
}

/** Runs a nested schema inside a transform, forwarding its issues under the current path. */
function nested<T>(schema: z.ZodType<T>, v: unknown, ctx: Ctx): T | undefined {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  for (const iss of r.error.issues) {
    const d = describeIssue(iss);
    issue(ctx, d.message, v, d.path);
  }
  return undefined;
}

// ---- links --------------------------------------------------------------------------

const linkMap = strictMap({
  bandwidth: leaf(quantityCheck('bandwidth', 'positive')),
  latency: leaf(quantityCheck('time', 'nonnegative')),
});

function linkSchema(presets: Readonly<Record<string, LinkPreset>>, example: string) {
  const presetList = Object.keys(presets).join(', ');
  return z.unknown().transform((v, ctx): Link | undefined => {
    if (v === undefined) return undefined;
    if (typeof v === 'string') {
      const p = findPreset(presets, v);
      if (p) return { bandwidth: p.bandwidth, latency: p.latency };
      issue(ctx, `unknown link preset ${show(v)}; presets: ${presetList}, or a map like ${example}`, v);
      return z.NEVER;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      issue(ctx, `expected a map like ${example} or a preset (${presetList}), got ${show(v)}`, v);
      return z.NEVER;
    }
    const m = nested(linkMap, v, ctx);
    if (!m) return z.NEVER;
    if (m.bandwidth === undefined) issue(ctx, `missing; expected ${QUANTITY_FORMS.bandwidth}`, v, ['bandwidth']);
    if (m.latency === undefined) issue(ctx, `missing; expected ${QUANTITY_FORMS.time}`, v, ['latency']);
    if (m.bandwidth === undefined || m.latency === undefined) return z.NEVER;
    return { bandwidth: m.bandwidth, latency: m.latency };
  }).optional();
}

export const intraHostLink = linkSchema(INTRA_HOST_PRESETS, '{bandwidth: 300GB/s, latency: 5us}');
export const interHostLink = linkSchema(INTER_HOST_PRESETS, '{bandwidth: 200Gb/s, latency: 10us}');

// ---- devices ------------------------------------------------------------------------

const flopsLeaf = leaf(quantityCheck('flops', 'positive'));
const peakFlopsMap = z.strictObject(
  Object.fromEntries(DTYPES.map((d) => [d, flopsLeaf])) as Record<Dtype, typeof flopsLeaf>,
  { error: mapError([...DTYPES]) },
);

const efficiencyMap = strictMap({
  matmul: leaf(fractionCheck),
  conv: leaf(fractionCheck),
  memory: leaf(fractionCheck),
});

const deviceMap = strictMap({
  preset: leaf(nameCheck),
  name: leaf(nameCheck),
  peakFlops: z.unknown().transform((v, ctx) => (v === undefined ? undefined : nested(peakFlopsMap, v, ctx) ?? z.NEVER)).optional(),
  memory: leaf(quantityCheck('bytes', 'positive')),
  memoryBandwidth: leaf(quantityCheck('bandwidth', 'positive')),
  efficiency: z.unknown().transform((v, ctx) => (v === undefined ? undefined : nested(efficiencyMap, v, ctx) ?? z.NEVER)).optional(),
});

const PRESET_LIST = Object.keys(DEVICE_PRESETS).join(', ');
const DEFAULT_EFFICIENCY: Efficiency = { matmul: 0.8, conv: 0.7, memory: 1 };

function lookupDevice(name: string, ctx: Ctx, v: unknown, path: readonly PropertyKey[]): DeviceType | undefined {
  const p = findPreset(DEVICE_PRESETS, name);
  if (!p) issue(ctx, `unknown device preset ${show(name)}; presets: ${PRESET_LIST}, or give the figures in full (name, peakFlops, memory, memoryBandwidth)`, v, path);
  return p;
}

/** Copies only the defined entries, so `exactOptionalPropertyTypes`-style readers see no undefined values. */
function definedEntries<K extends string>(o: Partial<Record<K, number | undefined>>): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const [k, v] of Object.entries(o) as [K, number | undefined][]) if (v !== undefined) out[k] = v;
  return out;
}

export const deviceSchema = z.unknown().transform((v, ctx): DeviceType | undefined => {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return lookupDevice(v, ctx, v, []) ?? z.NEVER;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    issue(ctx, `expected a preset name (${PRESET_LIST}) or a map {name, peakFlops, memory, memoryBandwidth}, got ${show(v)}`, v);
    return z.NEVER;
  }
  const m = nested(deviceMap, v, ctx);
  if (!m) return z.NEVER;
  const base = m.preset === undefined ? undefined : lookupDevice(m.preset, ctx, v, ['preset']);
  if (m.preset !== undefined && !base) return z.NEVER;
  const flops = definedEntries(m.peakFlops ?? {});
  const float32 = flops.float32 ?? base?.peakFlops.float32;
  const name = m.name ?? base?.name;
  const memoryBytes = m.memory ?? base?.memoryBytes;
  const memoryBandwidth = m.memoryBandwidth ?? base?.memoryBandwidth;
  const missing: [string, string][] = [];
  if (name === undefined) missing.push(['name', 'a name for the device type, e.g. RTX-4090']);
  if (m.peakFlops === undefined && !base) missing.push(['peakFlops', `a map dtype -> FLOP/s with at least float32 (dtypes: ${DTYPES.join(', ')})`]);
  else if (float32 === undefined) missing.push(['peakFlops.float32', `${QUANTITY_FORMS.flops}; float32 is the fallback for other dtypes`]);
  if (memoryBytes === undefined) missing.push(['memory', QUANTITY_FORMS.bytes]);
  if (memoryBandwidth === undefined) missing.push(['memoryBandwidth', QUANTITY_FORMS.bandwidth]);
  for (const [key, form] of missing) issue(ctx, `missing; expected ${form} (or use a preset: ${PRESET_LIST})`, v, key.split('.'));
  if (name === undefined || float32 === undefined || memoryBytes === undefined || memoryBandwidth === undefined) return z.NEVER;
  const efficiency = { ...(base?.efficiency ?? DEFAULT_EFFICIENCY), ...definedEntries(m.efficiency ?? {}) };
  const source = m.preset !== undefined && base ? `${base.source ?? base.name} (with overrides)` : undefined;
  return {
    name,
    peakFlops: { ...(base?.peakFlops ?? {}), ...flops, float32 },
    memoryBytes,
    memoryBandwidth,
    efficiency,
    ...(source !== undefined ? { source } : {}),
  };
}).optional();

// ---- the file -----------------------------------------------------------------------

const count = (what: string) => leaf(countCheck(what));

export const groupSchema = strictMap({
  name: leaf(nameCheck),
  hosts: count('hosts in this group'),
  devicesPerHost: count('devices in each host, e.g. 8'),
  device: deviceSchema,
  intraHost: intraHostLink,
});

export const clusterSchema = strictMap({
  name: leaf(nameCheck),
  hosts: count('number of hosts, e.g. 2'),
  devicesPerHost: count('devices in each host, e.g. 8'),
  device: deviceSchema,
  intraHost: intraHostLink,
  interHost: interHostLink,
  groups: z
    .array(groupSchema, { error: (iss) => `expected a list of groups like [{hosts: 2, devicesPerHost: 8, device: A100-80GB}], got ${show(iss.input)}` })
    .min(1, { error: 'expected at least one group' })
    .optional(),
});

export type RawCluster = z.output<typeof clusterSchema>;
