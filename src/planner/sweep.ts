/**
 * `autopar compare --devices 8,16,32,64`: the cluster at each size (cluster/resize.ts),
 * each size planned with a set of strategies, the best one's throughput and samples per
 * device-hour, and where adding devices stops paying.
 *
 * The global batch stays the model's (or --batch's) at every size: the question is how
 * many devices one training run of that batch should use (strong scaling).
 *
 * The rule: going from the previous feasible size p to n, the added devices' gain is
 *   ((T(n) - T(p)) / (n - p)) / (T(p) / p)
 * (throughput each added device brings, over the throughput per device at size p: 1 is
 * perfect scaling, 0 nothing gained, below 0 a slowdown). Adding devices pays while the
 * gain is at least `minGain` (default 0.5); the first size below it is where it stops.
 */
import path from 'node:path';
import { type InterHostChoice, interHostFor, resizeCluster } from '../cluster/resize.js';
import type { Cluster } from '../cluster/types.js';
import { AutoparError } from '../errors.js';
import { type CompareRow, fastest, planRow, rejectedRow } from './compare.js';
import type { CompileOptions } from './compile.js';
import { planModel } from './plan-model.js';

/**
 * Strategies a sweep can plan. `hybrid` is Megatron-LM's layout: tensor parallel inside
 * each host, data parallel across hosts (dp=hosts,tp=devicesPerHost; on one host it
 * would be megatron and is left out).
 */
export const SWEEP_STRATEGIES = ['dp', 'zero3', 'megatron', 'hybrid', 'pipeline', 'auto'] as const;
export type SweepStrategy = (typeof SWEEP_STRATEGIES)[number];

/**
 * The default set: layouts fixed by the strategy, so each plan is one small ILP (seconds).
 * `auto` searches every mesh shape (about a minute per size for gpt2_tiny on 8 devices)
 * and `pipeline` runs the stage DP; add them with `strategies` when the time is there.
 */
export const DEFAULT_SWEEP_STRATEGIES: readonly SweepStrategy[] = ['dp', 'zero3', 'megatron', 'hybrid'];

export const DEFAULT_MIN_GAIN = 0.5;

export interface SweepOptions {
  readonly devices: readonly number[];
  readonly strategies?: readonly SweepStrategy[];
  /** Network preset between hosts (default: the cluster's, else ib-hdr). */
  readonly interHost?: string;
  readonly minGain?: number;
  /** Called as each size is planned (the CLI prints it on a terminal). */
  readonly onPoint?: (point: SweepPoint, seconds: number) => void;
}

export interface SweepPoint {
  readonly devices: number;
  readonly hosts: number;
  readonly feasible: boolean;
  /** The fastest strategy at this size (as planned, e.g. `dp=2,tp=8` for hybrid). */
  readonly best: string | null;
  readonly stepTimeSeconds: number | null;
  readonly throughputSamplesPerSecond: number | null;
  readonly samplesPerDeviceHour: number | null;
  /** The rule's gain from the previous feasible size; null at the first feasible size or with no plan. */
  readonly gain: number | null;
  /** gain >= minGain; null where there is no gain to judge. */
  readonly pays: boolean | null;
  readonly strategies: readonly CompareRow[];
}

export interface SweepResult {
  readonly model: string;
  readonly batch: number | null;
  readonly cluster: string;
  readonly device: string;
  readonly devicesPerHost: number;
  readonly interHost: { readonly name: string; readonly from: InterHostChoice['from']; readonly bandwidthBytesPerSecond: number; readonly latencySeconds: number };
  readonly strategies: readonly SweepStrategy[];
  readonly rule: { readonly minGain: number; readonly text: string };
  readonly points: readonly SweepPoint[];
  /** The largest size up to which every step pays (null: nothing fits at any size). */
  readonly recommended: number | null;
  /** The first size where adding devices stops paying (null: it pays all the way). */
  readonly stopsPaying: number | null;
  readonly planningSeconds: number;
}

export function ruleText(minGain: number): string {
  return `adding devices pays while each added device brings at least ${minGain} x the throughput per device of the previous size: ((T(n) - T(p)) / (n - p)) / (T(p) / p) >= ${minGain}`;
}

export function parseSweepStrategies(text: string): SweepStrategy[] {
  const list = text.split(',').map((s) => s.trim());
  for (const s of list) {
    if (!(SWEEP_STRATEGIES as readonly string[]).includes(s)) throw new AutoparError('E_USAGE', `--strategies: '${s}' is not one the sweep plans; use a comma-separated list of ${SWEEP_STRATEGIES.join(', ')}`);
  }
  return list as SweepStrategy[];
}

/** The concrete strategy string of a sweep strategy at a size, or undefined where it duplicates another. */
function concrete(s: SweepStrategy, cluster: Cluster): string | undefined {
  switch (s) {
    case 'hybrid': {
      const hosts = cluster.hosts.length;
      const per = cluster.devices.length / hosts;
      return hosts > 1 ? `dp=${hosts},tp=${per}` : undefined;
    }
    case 'dp':
    case 'zero3':
    case 'megatron':
    case 'pipeline':
    case 'auto':
      return s;
  }
}

export async function sweepDevices(base: Omit<CompileOptions, 'strategy' | 'cluster'> & { readonly cluster: Cluster }, opts: SweepOptions): Promise<SweepResult> {
  const t0 = performance.now();
  const sizes = [...new Set(opts.devices)].sort((a, b) => a - b);
  if (sizes.length === 0) throw new AutoparError('E_USAGE', '--devices expects sizes such as 8,16,32,64');
  const minGain = opts.minGain ?? DEFAULT_MIN_GAIN;
  if (!Number.isFinite(minGain)) throw new AutoparError('E_USAGE', `--min-gain expects a number such as 0.5, got ${String(opts.minGain)}`);
  const strategies = opts.strategies ?? DEFAULT_SWEEP_STRATEGIES;
  if (strategies.length === 0) throw new AutoparError('E_USAGE', `--strategies is empty; give some of ${SWEEP_STRATEGIES.join(', ')}`);
  // A mesh shape or manual microbatching fixes one size: they do not carry across a sweep.
  if (base.mesh) throw new AutoparError('E_USAGE', `--mesh ${base.mesh.join('x')} fits one cluster size; drop it with --devices (each size tries its own meshes)`);
  const link = interHostFor(base.cluster, opts.interHost);
  // Every size is checked before any planning: a bad size fails at once, not after minutes.
  const clusters = sizes.map((n) => resizeCluster(base.cluster, n, link.link));
  let model = typeof base.model === 'string' ? path.basename(base.model) : base.model.name;
  let batch: number | null = null;
  const points: SweepPoint[] = [];
  let prev: { devices: number; throughput: number } | undefined;
  for (const cluster of clusters) {
    const t1 = performance.now();
    const n = cluster.devices.length;
    const rows: CompareRow[] = [];
    for (const s of strategies) {
      const strategy = concrete(s, cluster);
      if (strategy === undefined) continue;
      try {
        const plan = (await planModel({ ...base, cluster, strategy })).plan;
        model = plan.model;
        batch = plan.batch;
        rows.push(planRow(strategy, plan));
      } catch (e) {
        rows.push(rejectedRow(strategy, e));
      }
    }
    const best = fastest(rows);
    const throughput = best?.throughputSamplesPerSecond ?? null;
    let gain: number | null = null;
    if (throughput !== null && prev) gain = (throughput - prev.throughput) / (n - prev.devices) / (prev.throughput / prev.devices);
    const point: SweepPoint = {
      devices: n,
      hosts: cluster.hosts.length,
      feasible: best !== undefined,
      best: best?.strategy ?? null,
      stepTimeSeconds: best?.stepTimeSeconds ?? null,
      throughputSamplesPerSecond: throughput,
      samplesPerDeviceHour: throughput === null ? null : (throughput * 3600) / n,
      gain,
      pays: gain === null ? null : gain >= minGain,
      strategies: rows,
    };
    points.push(point);
    opts.onPoint?.(point, (performance.now() - t1) / 1000);
    if (throughput !== null) prev = { devices: n, throughput };
  }
  const stop = points.find((p) => p.pays === false);
  const before = points.filter((p) => p.feasible && (stop === undefined || p.devices < stop.devices));
  return {
    model,
    batch,
    cluster: base.cluster.file,
    device: base.cluster.groups[0]?.device.name ?? '?',
    devicesPerHost: base.cluster.groups[0]?.devicesPerHost ?? 0,
    interHost: { name: link.name, from: link.from, bandwidthBytesPerSecond: link.link.bandwidth, latencySeconds: link.link.latency },
    strategies,
    rule: { minGain, text: ruleText(minGain) },
    points,
    recommended: before[before.length - 1]?.devices ?? null,
    stopsPaying: stop?.devices ?? null,
    planningSeconds: (performance.now() - t0) / 1000,
  };
}
