/**
 * Runs the micro-batch counts of a pipeline search side by side: each count is a whole
 * inter-op pass (tens of seconds at GPT-1.3B scale) independent of the others, so
 * worker threads, one per core, divide the wall clock. With one worker (or one task)
 * it runs here, in this thread.
 */
import type { PipelinePlan, PipelineRejection } from '../../passes/inter-op/pipeline.js';
import { AutoparError, type ErrorCode } from '../errors.js';
import { runPipelineTask, type PipelineTask } from './pipeline-task.js';
import { tunePlannerJit } from './jit-tuning.js';
import { dropPlanThreads, takePlanThread } from './plan-threads.js';

export { defaultPlanWorkers } from './plan-threads.js';

export type PipelineOutcome = PipelinePlan | PipelineRejection;

type Reply = { ok?: PipelineOutcome; error?: { code: ErrorCode; message: string } };

/**
 * A worker thread that plans the tasks it is sent, one at a time: a lane keeps one for
 * all its counts, so modules load and the solver's code is optimised once per lane,
 * not once per count.
 */
class PlanWorker {
  // One started ahead of time when there is one (see plan-threads.ts).
  private readonly worker = takePlanThread();

  run(task: PipelineTask): Promise<PipelineOutcome> {
    const w = this.worker;
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
      };
      const onMessage = (m: Reply): void => {
        settle();
        if (m.ok) resolve(m.ok);
        else reject(new AutoparError(m.error?.code ?? 'E_INTERNAL', m.error?.message ?? 'pipeline worker failed'));
      };
      const onError = (e: Error): void => {
        settle();
        reject(new AutoparError('E_INTERNAL', `pipeline worker for ${task.microbatches} micro-batches failed: ${e.message}`));
      };
      const onExit = (code: number): void => {
        settle();
        reject(new AutoparError('E_INTERNAL', `pipeline worker for ${task.microbatches} micro-batches exited with code ${code} before answering`));
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.postMessage(task);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * Outcomes of tasks 0..count-1 in order, run in the order `order` gives (default 0, 1,
 * ...); `onDone` as each finishes. A task is made (`taskAt`) when a lane takes it, so the
 * first workers start before the last graphs exist.
 */
export async function runPipelineTasks(count: number, taskAt: (i: number) => PipelineTask, workers: number, onDone?: (task: PipelineTask, outcome: PipelineOutcome) => void, order?: readonly number[]): Promise<PipelineOutcome[]> {
  // Before the workers start: the setting is read when their code is optimised.
  tunePlannerJit();
  const out = new Array<PipelineOutcome | undefined>(count);
  const sequence = order ?? Array.from({ length: count }, (_, i) => i);
  if (sequence.length !== count || new Set(sequence).size !== count || sequence.some((i) => !Number.isInteger(i) || i < 0 || i >= count)) throw new AutoparError('E_INTERNAL', `runPipelineTasks: order [${sequence.join(', ')}] is not a permutation of 0..${count - 1}`);
  if (workers <= 1 || count <= 1) {
    // Threads started ahead of time (plan-threads.ts) are not needed here.
    dropPlanThreads();
    for (const i of sequence) {
      const t = taskAt(i);
      const o = await runPipelineTask(t);
      out[i] = o;
      onDone?.(t, o);
    }
  } else {
    let next = 0;
    // After a failure the other lanes finish their task and take no more.
    let failed = false;
    const lane = async (): Promise<void> => {
      const w = new PlanWorker();
      try {
        while (next < count && !failed) {
          const i = sequence[next++] ?? 0;
          const t = taskAt(i);
          const o = await w.run(t);
          out[i] = o;
          onDone?.(t, o);
        }
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        await w.close();
      }
    };
    // Each lane takes its thread before its first await: those started beyond them go.
    const lanes = Array.from({ length: Math.min(workers, count) }, lane);
    dropPlanThreads();
    await Promise.all(lanes);
  }
  return out.map((o) => {
    if (!o) throw new AutoparError('E_INTERNAL', 'a pipeline task did not finish');
    return o;
  });
}
