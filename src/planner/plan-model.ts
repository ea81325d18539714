/**
 * One entry point for every strategy, as `autopar compile` and `compare` use it:
 * single-stage strategies go to compileModel (the exact intra-op pass over the whole
 * training graph), pipelined ones to compilePipeline. `auto` is pipelined on a cluster
 * of several hosts: there its stage DP includes the one-stage plan (all layers on all
 * devices) among its candidates, and pipelining across slow host links is where it pays.
 */
import { tunePlannerJit } from './jit-tuning.js';
import { loadCluster } from '../cluster/load.js';
import { AutoparError } from '../errors.js';
import { compileModel, type CompileOptions, type Compiled } from './compile.js';
import { parseStrategy } from './manual.js';
import { buildPlanJson, compileSummary, type CompileSummary, type PlanJson } from './plan-json.js';
import { compilePipeline } from './pipeline.js';
import { dropPlanThreads } from './plan-threads.js';

export interface PlannedModel {
  readonly plan: PlanJson;
  readonly summary: CompileSummary;
  /** The single-stage result, when the plan is one (for reports that read its details). */
  readonly compiled: Compiled | undefined;
}

export function isPipelined(opts: CompileOptions): boolean {
  const text = opts.strategy ?? 'auto';
  if (text === 'pipeline') return true;
  const s = parseStrategy(text);
  if (s !== 'auto') return s.kind === 'grid' && s.pp > 1;
  if ((opts.mode ?? 'train') !== 'train' || opts.mesh || opts.pin) return false;
  const cluster = typeof opts.cluster === 'string' ? loadCluster(opts.cluster) : opts.cluster;
  return cluster.hosts.length > 1;
}

export async function planModel(opts: CompileOptions): Promise<PlannedModel> {
  tunePlannerJit();
  if (isPipelined(opts)) {
    if (opts.printIrAfter) throw new AutoparError('E_USAGE', `--print-ir-after prints the passes of a one-mesh plan; this plan is pipelined (${opts.strategy ?? 'auto'} on ${typeof opts.cluster === 'string' ? opts.cluster : opts.cluster.file}): add --mesh to plan one mesh, or drop --print-ir-after`);
    const r = await compilePipeline({ ...opts, strategy: opts.strategy ?? 'auto' });
    return { ...r, compiled: undefined };
  }
  // One mesh is planned in this thread: planning threads started ahead of time go.
  dropPlanThreads();
  const compiled = await compileModel(opts);
  const plan = buildPlanJson(compiled);
  return { plan, summary: compileSummary(compiled, plan), compiled };
}
