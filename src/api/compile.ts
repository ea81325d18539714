/**
 * `compile()` of the programmatic API: what `autopar compile` does, returning what
 * `autopar compile --json` prints (plus the plan itself), for training code that plans
 * and then runs without a shell in between.
 */
import path from 'node:path';
import { AutoparError } from '../errors.js';
import { writeCompiled } from '../planner/device-programs.js';
import type { CompileSummary, PlanJson } from '../planner/plan-json.js';
import { planModel } from '../planner/plan-model.js';
import { writeReport } from '../report/html.js';
import { type PlanningOptions, toCompileOptions } from './options.js';

export interface CompileApiOptions extends PlanningOptions {
  /** auto (default), dp, megatron, zero3, pipeline, or dp=D,tp=T,pp=P. */
  readonly strategy?: string;
  /**
   * Output folder: plan.json, devices/ (one-mesh training plans) and report.html, as
   * `autopar compile --out` writes them; a model given as bytes is saved there too (as
   * `modelName`), so `run(out)` can re-read it. Without it nothing is written.
   */
  readonly out?: string;
}

/** The files `compile` wrote (absent without `out`). */
export interface CompileFiles {
  readonly plan: string;
  readonly report: string;
  /** DIR/devices, for one-mesh training plans (the programs `run` executes). */
  readonly programs?: string;
}

/**
 * Without `planJson`, exactly the object `autopar compile --json` prints (the files only
 * with `out`). `planJson` is plan.json's content, also when nothing was written.
 */
export type CompileResult = CompileSummary & Partial<CompileFiles> & { readonly planJson: PlanJson };

export async function compile(opts: CompileApiOptions): Promise<CompileResult> {
  if (opts.strategy !== undefined && typeof opts.strategy !== 'string') throw new AutoparError('E_USAGE', `strategy must be a string such as 'megatron' or 'dp=2,tp=4', got ${typeof opts.strategy}`);
  if (opts.out !== undefined && (typeof opts.out !== 'string' || opts.out === '')) throw new AutoparError('E_USAGE', 'out must be a folder path');
  const { options, cleanup, temporary } = toCompileOptions(opts, opts.out);
  try {
    const planned = await planModel({ ...options, strategy: opts.strategy });
    // A model saved to a temporary folder is gone after this call: a plan naming it could not be run.
    const planJson: PlanJson = temporary ? withoutSource(planned.plan) : planned.plan;
    if (opts.out === undefined) return { ...planned.summary, planJson };
    const { plan, programs } = writeCompiled(opts.out, planned);
    const report = writeReport(opts.out, planned.plan);
    return { ...planned.summary, plan, report, ...(programs ? { programs } : {}), planJson };
  } finally {
    cleanup();
  }
}

function withoutSource(plan: PlanJson): PlanJson {
  const { source: _source, ...rest } = plan;
  return rest;
}

/** The default output folder of the CLI: `<model name>.autopar` in the working directory. */
export function defaultOut(model: string): string {
  return `${path.basename(model).replace(/\.onnx$/i, '')}.autopar`;
}
