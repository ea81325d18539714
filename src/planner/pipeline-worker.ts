/** Worker thread entry: runs one PipelineTask (see pipeline-task.ts) and posts the result. */
import { parentPort, workerData } from 'node:worker_threads';
import { AutoparError } from '../errors.js';
import { runPipelineTask, type PipelineTask } from './pipeline-task.js';

const port = parentPort;
if (!port) throw new Error('pipeline-worker.js runs as a worker thread');
try {
  port.postMessage({ ok: await runPipelineTask(workerData as PipelineTask) });
} catch (e) {
  // An AutoparError keeps its code across the thread boundary; anything else is a bug.
  port.postMessage({ error: { code: e instanceof AutoparError ? e.code : 'E_INTERNAL', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } });
}
