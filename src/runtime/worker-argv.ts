/**
 * Node options for worker threads. A worker inherits the parent's execArgv, but a script
 * run as `node --input-type=module -e '...'` (how a user tries the API in one line) passes
 * `--input-type`, which a worker refuses ("can only be used with string input"): drop it.
 */
export function workerExecArgv(): string[] {
  const out: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const a = process.execArgv[i] ?? '';
    if (a === '--input-type') i++;
    else if (!a.startsWith('--input-type=')) out.push(a);
  }
  return out;
}
