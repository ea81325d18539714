/** Worker thread entry: runs each PipelineTask (see pipeline-task.ts) it is sent and posts the result. */
import { parentPort } from 'node:worker_threads';
import { AutoparError } from '../errors.js';
import { runPipelineTask, type PipelineTask } from './pipeline-task.js';

const port = parentPort;
if (!port) throw new Error('pipeline-worker.js runs as a worker thread');
port.on('message', (task: PipelineTask) => {
  runPipelineTask(task).then(
    (ok) => port.postMessage({ ok }),
    // An AutoparError keeps its code across the thread boundary; anything else is a bug.
    (e: unknown) => port.postMessage({ error: { code: e instanceof AutoparError ? e.code : 'E_INTERNAL', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } }),
  );
});
