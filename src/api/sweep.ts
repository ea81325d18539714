/**
 * `sweep()` of the programmatic API: the model planned at several cluster sizes, and
 * where adding devices stops paying, as `autopar compare --devices ... --json` prints it.
 */
import { AutoparError } from '../errors.js';
import { sweepDevices, type SweepOptions, type SweepResult } from '../planner/sweep.js';
import { writeSweepHtml } from '../report/sweep-html.js';
import { type PlanningOptions, toCompileOptions } from './options.js';

export type { SweepResult };

export interface SweepApiOptions extends PlanningOptions, Omit<SweepOptions, 'devices'> {
  /** Cluster sizes to plan, e.g. [8, 16, 32, 64]: hosts of the given cluster's size. */
  readonly devices: readonly number[];
  /** Also write the chart page here (self-contained HTML). */
  readonly html?: string;
}

/** The sweep `autopar compare --devices` prints with --json (`html`: the page, when asked for). */
export type SweepApiResult = SweepResult & { readonly html?: string };

export async function sweep(opts: SweepApiOptions): Promise<SweepApiResult> {
  if (!Array.isArray(opts.devices)) throw new AutoparError('E_USAGE', 'devices must be a list of cluster sizes such as [8, 16, 32, 64]');
  const { options, cleanup } = toCompileOptions(opts, undefined);
  try {
    const r = await sweepDevices(options, { devices: opts.devices, strategies: opts.strategies, interHost: opts.interHost, minGain: opts.minGain, onPoint: opts.onPoint });
    return opts.html === undefined ? r : { ...r, html: writeSweepHtml(opts.html, r) };
  } finally {
    cleanup();
  }
}
