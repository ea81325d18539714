/**
 * A V8 setting for planning. The planner's hot code (variable elimination, the problem
 * reductions, axis descent) is a few large functions full of closures; under V8's default
 * cumulative inlining budget (920 bytecodes) TurboFan spends seconds compiling, and after
 * deoptimisations recompiling, each of them in every planning thread. A budget of 200
 * planned GPT-175B on 1,024 devices in 0.85x the wall time (medians, side by side) and
 * GPT-1.3B on 64 devices in 0.86-0.95x, the same plans (bench/RESULTS.md).
 *
 * V8 flags belong to the process: set when planning starts (planModel, the pipeline
 * search), before the planner's worker threads start, it holds in them and in this
 * thread, for the rest of the process (an application planning through the API gets it
 * too; AUTOPAR_V8_DEFAULTS=1 leaves V8's own). `run` and `worker`, which execute plans,
 * do not set it.
 */
import v8 from 'node:v8';

let tuned = false;

export function tunePlannerJit(): void {
  if (tuned || process.env.AUTOPAR_V8_DEFAULTS === '1') return;
  tuned = true;
  v8.setFlagsFromString('--max-inlined-bytecode-size-cumulative=200');
}
