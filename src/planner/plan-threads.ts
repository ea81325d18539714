/**
 * The worker threads that plan a pipeline search's micro-batch counts (pipeline-pool.ts),
 * and starting them ahead of time. A planning thread loads about a hundred modules
 * before it can take a count: on a 2-core machine about as long as the main thread takes
 * to load its own and read the model (0.4-0.6 s each), and the counts waited for it.
 * `autopar compile` starts them first thing (prewarmPlanThreads), so that they load
 * while the main thread does; the search then takes them (takePlanThread).
 *
 * This module stays light (no planner imports): the CLI loads it before everything else.
 */
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { compiledSibling } from '../runtime/collectives/compiled.js';
import { startWorker } from '../runtime/worker-argv.js';
import { tunePlannerJit } from './jit-tuning.js';

/** Workers to use by default: the cores, at most 4 (each holds its own copy of the graphs). */
export function defaultPlanWorkers(): number {
  const env = Number(process.env.AUTOPAR_PLAN_WORKERS);
  if (Number.isInteger(env) && env >= 1) return env;
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

/** A new planning thread, loading its modules, idle until sent a task. */
export function spawnPlanThread(): Worker {
  // A young generation of 96 MiB (V8's default is a few): the intra-op solves allocate
  // many short-lived arrays, and scavenging them took about a tenth of the CPU time.
  return startWorker(compiledSibling(import.meta.url, 'pipeline-worker.js'), { resourceLimits: { maxYoungGenerationSizeMb: 96 } });
}

interface Warm {
  readonly worker: Worker;
  /** It failed or exited before being taken: it is not handed out. */
  gone: boolean;
}

const warm: Warm[] = [];

/**
 * Starts `count` planning threads now (none when planning would run in this thread).
 * They hold no handle open while idle: a command that ends without taking them exits.
 */
export function prewarmPlanThreads(count: number = defaultPlanWorkers()): void {
  if (count <= 1) return;
  // V8's settings for planning before the threads start (see jit-tuning.ts).
  tunePlannerJit();
  while (warm.length < count) {
    const worker = spawnPlanThread();
    const w: Warm = { worker, gone: false };
    // Until taken, a failure is only noted; the search then starts a fresh thread, whose
    // failure it reports with the count it was planning.
    const gone = (): void => {
      w.gone = true;
    };
    worker.on('error', gone);
    worker.on('exit', gone);
    worker.unref();
    warm.push(w);
  }
}

/** A started thread if one is waiting, else a new one; the caller terminates it when done. */
export function takePlanThread(): Worker {
  for (let w = warm.shift(); w; w = warm.shift()) {
    if (w.gone) continue;
    w.worker.removeAllListeners('error');
    w.worker.removeAllListeners('exit');
    w.worker.ref();
    return w.worker;
  }
  return spawnPlanThread();
}

/** Terminates the started threads nobody took (a plan that needed none, or fewer lanes than threads). */
export function dropPlanThreads(): void {
  for (const w of warm.splice(0)) void w.worker.terminate();
}

/** The started threads not yet taken (for tests). */
export function waitingPlanThreads(): number {
  return warm.filter((w) => !w.gone).length;
}
