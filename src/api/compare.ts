/**
 * `compare()` of the programmatic API: the model planned with every built-in strategy
 * and `auto` on one cluster, as `autopar compare --json` prints it.
 */
import { compareStrategies, type CompareResult } from '../planner/compare.js';
import { writeCompareHtml } from '../report/compare-html.js';
import { type PlanningOptions, toCompileOptions } from './options.js';

export type { CompareResult };

export interface CompareApiOptions extends PlanningOptions {
  /** Also write the strategies side by side as a chart page (self-contained HTML) here. */
  readonly html?: string;
}

/** What `autopar compare --json` prints (`html`: the page, when asked for). */
export type CompareApiResult = CompareResult & { readonly html?: string };

export async function compare(opts: CompareApiOptions): Promise<CompareApiResult> {
  const { options, cleanup } = toCompileOptions(opts, undefined);
  try {
    const r = await compareStrategies(options);
    return opts.html === undefined ? r : { ...r, html: writeCompareHtml(opts.html, r) };
  } finally {
    cleanup();
  }
}
