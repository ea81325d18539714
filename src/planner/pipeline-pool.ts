/**
 * Runs the micro-batch counts of a pipeline search side by side: each count is a whole
 * inter-op pass (tens of seconds at GPT-1.3B scale) independent of the others, so
 * worker threads, one per core, divide the wall clock. With one worker (or one task)
 * it runs here, in this thread.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PipelinePlan, PipelineRejection } from '../../passes/inter-op/pipeline.js';
import { AutoparError, type ErrorCode } from '../errors.js';
import { compiledSibling } from '../runtime/collectives/compiled.js';
import { runPipelineTask, type PipelineTask } from './pipeline-task.js';
import { workerExecArgv } from '../runtime/worker-argv.js';

export type PipelineOutcome = PipelinePlan | PipelineRejection;

/** Workers to use by default: the cores, at most 4 (each holds its own copy of the graphs). */
export function defaultPlanWorkers(): number {
  const env = Number(process.env.AUTOPAR_PLAN_WORKERS);
  if (Number.isInteger(env) && env >= 1) return env;
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

function inWorker(task: PipelineTask): Promise<PipelineOutcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(compiledSibling(import.meta.url, 'pipeline-worker.js'), { workerData: task, execArgv: workerExecArgv() });
    let settled = false;
    worker.once('message', (m: { ok?: PipelineOutcome; error?: { code: ErrorCode; message: string } }) => {
      settled = true;
      if (m.ok) resolve(m.ok);
      else reject(new AutoparError(m.error?.code ?? 'E_INTERNAL', m.error?.message ?? 'pipeline worker failed'));
      void worker.terminate();
    });
    worker.once('error', (e) => {
      if (settled) return;
      settled = true;
      reject(new AutoparError('E_INTERNAL', `pipeline worker for ${task.microbatches} micro-batches failed: ${e.message}`));
    });
    worker.once('exit', (code) => {
      if (settled) return;
      settled = true;
      reject(new AutoparError('E_INTERNAL', `pipeline worker for ${task.microbatches} micro-batches exited with code ${code} before answering`));
    });
  });
}

/** Outcomes in the order of `tasks`; `onDone` as each finishes. */
export async function runPipelineTasks(tasks: readonly PipelineTask[], workers: number, onDone?: (task: PipelineTask) => void): Promise<PipelineOutcome[]> {
  const out = new Array<PipelineOutcome | undefined>(tasks.length);
  if (workers <= 1 || tasks.length <= 1) {
    for (const [i, t] of tasks.entries()) {
      out[i] = await runPipelineTask(t);
      onDone?.(t);
    }
  } else {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < tasks.length) {
        const i = next++;
        const t = tasks[i] as PipelineTask;
        out[i] = await inWorker(t);
        onDone?.(t);
      }
    };
    await Promise.all(Array.from({ length: Math.min(workers, tasks.length) }, lane));
  }
  return out.map((o) => {
    if (!o) throw new AutoparError('E_INTERNAL', 'a pipeline task did not finish');
    return o;
  });
}
