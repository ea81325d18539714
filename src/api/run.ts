/**
 * `run()` of the programmatic API: trains a compiled plan for a number of steps (an
 * inference plan: runs its forward pass), one worker per device (worker threads, or
 * processes under MPI), and returns what `autopar run --json` prints.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AutoparError } from '../errors.js';
import { runPlan, type RunSummary } from '../runtime/pipeline/run-plan.js';

export interface RunApiOptions {
  /** Training steps (default 1); each step's loss is in the result. Forward passes for an inference plan. */
  readonly steps?: number;
  /** A reference folder: inputs, targets and initial weights from it, gradients (an inference plan: outputs) compared with it. */
  readonly reference?: string;
  /** threads (default) or mpi (starts the workers with mpirun). */
  readonly transport?: 'threads' | 'mpi';
}

export type { RunSummary };

export async function run(dir: string, opts: RunApiOptions = {}): Promise<RunSummary> {
  if (typeof dir !== 'string' || !fs.existsSync(path.join(dir, 'plan.json'))) {
    throw new AutoparError('E_FILE', `${String(dir)}: no plan.json there; give the folder compile({ out }) or \`autopar compile --out\` wrote`);
  }
  const steps = opts.steps ?? 1;
  if (!Number.isInteger(steps) || steps < 1) throw new AutoparError('E_USAGE', `steps must be a whole number of steps, at least 1; got ${String(opts.steps)}`);
  const transport = opts.transport ?? 'threads';
  if (transport !== 'threads' && transport !== 'mpi') throw new AutoparError('E_USAGE', `transport must be threads or mpi, got '${String(transport)}'`);
  return runPlan(dir, { steps, reference: opts.reference, transport });
}
