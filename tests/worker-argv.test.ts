/**
 * Worker threads inherit the parent's Node options, less those a worker refuses: the
 * planner's pool and the thread transport must start under `node --max-semi-space-size=64`
 * (a V8 option, which Worker rejects with ERR_WORKER_INVALID_EXEC_ARGV) or `--input-type`.
 */
import { describe, expect, it } from 'vitest';
import { startWorker, workerExecArgv } from '../src/runtime/worker-argv.js';

const echo = "require('node:worker_threads').parentPort.postMessage(process.execArgv)";

async function execArgvOf(argv: readonly string[]): Promise<string[]> {
  const w = startWorker(echo, { eval: true }, argv);
  try {
    return await new Promise<string[]>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  } finally {
    await w.terminate();
  }
}

describe('worker options', () => {
  it('drops --input-type in both spellings', () => {
    expect(workerExecArgv(['--input-type', 'module', '--no-warnings', '--input-type=module'])).toEqual(['--no-warnings']);
  });

  it('starts a worker without the V8 options it refuses, keeping the Node ones', async () => {
    const argv = ['--no-warnings', '--max-semi-space-size=48', '--stack-trace-limit=50', '--conditions=autopar-test'];
    expect(await execArgvOf(argv)).toEqual(['--no-warnings', '--conditions=autopar-test']);
    // Remembered: the next worker is started without them at once.
    expect(workerExecArgv(argv)).toEqual(['--no-warnings', '--conditions=autopar-test']);
  });

  it('starts one when every option given is refused', async () => {
    expect(await execArgvOf(['--max-old-space-size=4096'])).toEqual([]);
  });
});
