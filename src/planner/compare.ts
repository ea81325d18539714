/** `autopar compare`: every built-in strategy and `auto`, in one cost model. */
import { AutoparError } from '../errors.js';
import type { CompileOptions } from './compile.js';
import type { PlanJson } from './plan-json.js';
import { isPipelined, planModel } from './plan-model.js';

export interface CompareRow {
  readonly strategy: string;
  readonly feasible: boolean;
  readonly stepTimeSeconds: number | null;
  readonly throughputSamplesPerSecond: number | null;
  readonly peakMemoryBytesPerDevice: number | null;
  readonly communicationBytesPerStep: number | null;
  readonly meshShape: readonly number[] | null;
  readonly reason?: string;
}

export interface CompareResult {
  readonly model: string;
  readonly devices: number;
  readonly strategies: readonly CompareRow[];
  readonly best: string;
}

export const BUILTIN_STRATEGIES = ['auto', 'dp', 'megatron', 'zero3', 'pipeline'] as const;

/** A planned strategy's row. */
export function planRow(strategy: string, plan: PlanJson): CompareRow {
  return {
    strategy,
    feasible: true,
    stepTimeSeconds: plan.cost.stepTimeSeconds,
    throughputSamplesPerSecond: plan.batch / plan.cost.stepTimeSeconds,
    peakMemoryBytesPerDevice: plan.cost.peakMemoryBytesPerDevice,
    communicationBytesPerStep: plan.cost.communicationBytesPerStep,
    meshShape: plan.stages[0]?.mesh.shape ?? null,
  };
}

/**
 * A strategy that cannot apply (E_USAGE) stays in the table with its reason; an error
 * about the inputs (an unreadable model or cluster: E_FILE, E_PARSE, ...) is the same for
 * every strategy and is thrown once, as is a bug.
 */
export function rejectedRow(strategy: string, e: unknown): CompareRow {
  if (!(e instanceof AutoparError) || e.code !== 'E_USAGE') throw e;
  return { strategy, feasible: false, stepTimeSeconds: null, throughputSamplesPerSecond: null, peakMemoryBytesPerDevice: null, communicationBytesPerStep: null, meshShape: null, reason: e.message };
}

/** The fastest feasible row, if any. */
export function fastest(rows: readonly CompareRow[]): CompareRow | undefined {
  return rows.filter((r) => r.feasible && r.stepTimeSeconds !== null).sort((a, b) => (a.stepTimeSeconds ?? Infinity) - (b.stepTimeSeconds ?? Infinity))[0];
}

export async function compareStrategies(opts: Omit<CompileOptions, 'strategy'>): Promise<CompareResult> {
  const rows: CompareRow[] = [];
  let model = '';
  let devices = 0;
  // On several hosts auto is the pipeline planner itself: plan it once for both rows.
  const autoIsPipeline = isPipelined({ ...opts, strategy: 'auto' });
  let autoPlan: PlanJson | undefined;
  for (const strategy of BUILTIN_STRATEGIES) {
    try {
      const plan = strategy === 'pipeline' && autoIsPipeline && autoPlan ? autoPlan : (await planModel({ ...opts, strategy })).plan;
      if (strategy === 'auto') autoPlan = plan;
      model = plan.model;
      devices = plan.cluster.devices;
      rows.push(planRow(strategy, plan));
    } catch (e) {
      rows.push(rejectedRow(strategy, e));
    }
  }
  const best = fastest(rows);
  // One reason for every strategy (e.g. a batch the model cannot take) is said once.
  const reasons = new Set(rows.map((r) => r.reason));
  const only = [...reasons][0];
  if (!best && reasons.size === 1 && only !== undefined) throw new AutoparError('E_USAGE', only);
  if (!best) throw new AutoparError('E_USAGE', `no strategy can run ${model || 'the model'} on this cluster: ${rows.map((r) => `${r.strategy}: ${r.reason ?? '?'}`).join('; ')}`);
  return { model, devices, strategies: rows, best: best.strategy };
}
