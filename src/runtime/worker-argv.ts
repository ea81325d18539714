/**
 * Node options for worker threads. A worker inherits the parent's execArgv, but refuses
 * some of it: `--input-type` from a script run as `node --input-type=module -e '...'` (how
 * a user tries the API in one line: "can only be used with string input"), and V8 or
 * process-wide options such as `--max-semi-space-size=64` (ERR_WORKER_INVALID_EXEC_ARGV).
 * Those already apply to the whole process, so a worker is started without them.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** Options Worker refused in this process (found once, then left out for every worker). */
const refused = new Set<string>();

export function workerExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--input-type') i++;
    else if (!a.startsWith('--input-type=') && !refused.has(a)) out.push(a);
  }
  return out;
}

/**
 * A Worker with the parent's options minus those it refuses. Node names the refused ones
 * in its error's message ("Initiated Worker with invalid execArgv flags: a, b"); any other
 * failure, or a message naming nothing passed, is rethrown as it is.
 */
export function startWorker(file: string | URL, options: Omit<WorkerOptions, 'execArgv'>, argv: readonly string[] = process.execArgv): Worker {
  const execArgv = workerExecArgv(argv);
  try {
    return new Worker(file, { ...options, execArgv });
  } catch (e) {
    if (!(e instanceof Error) || !('code' in e) || e.code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    const named = (e.message.split(':').slice(1).join(':') || '').split(',').map((s) => s.trim());
    const bad = execArgv.filter((a) => named.includes(a));
    if (bad.length === 0) throw e;
    for (const a of bad) refused.add(a);
    return new Worker(file, { ...options, execArgv: workerExecArgv(argv) });
  }
}
