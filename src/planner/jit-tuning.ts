/**
 * V8 settings for planning. The planner's hot code (variable elimination, the problem
 * reductions, axis descent, building each problem) is a few large functions full of
 * closures, compiled by TurboFan in every planning thread.
 *
 * - A cumulative inlining budget of 200 bytecodes (V8's default is 920): TurboFan spent
 *   seconds compiling, and after deoptimisations recompiling, each large function. It
 *   planned GPT-175B on 1,024 devices in 0.85x the wall time (medians, side by side) and
 *   GPT-1.3B on 64 devices in 0.86-0.95x, the same plans (bench/RESULTS.md).
 * - Array builtins (map, filter, forEach, ...) not inlined into optimised code. Inlined,
 *   `map` builds a holey array where the builtin builds a packed one, so an array made by
 *   the same line changes its map when the function that makes it is optimised, and
 *   every optimised reader of it deoptimises ("wrong map") and is compiled again: a
 *   third of one planning thread's deoptimisations (427 against 142 in six counts of a
 *   GPT-1.3B search), and most recompiles of `buildIntraOpProblem` and `eliminate` (8
 *   compiles each in those counts; 2 and 4 without). `autopar compile` of GPT-1.3B on 64
 *   devices: 0.87-0.92x the instructions and 0.85-0.91x the wall time, the same plan
 *   (bench/RESULTS.md).
 *
 * V8 flags belong to the process: set when planning starts (planModel, the pipeline
 * search), before the planner's worker threads start, they hold in them and in this
 * thread, for the rest of the process (an application planning through the API gets
 * them too; AUTOPAR_V8_DEFAULTS=1 leaves V8's own). `run` and `worker`, which execute
 * plans, do not set them.
 */
import v8 from 'node:v8';

let tuned = false;

export function tunePlannerJit(): void {
  if (tuned || process.env.AUTOPAR_V8_DEFAULTS === '1') return;
  tuned = true;
  v8.setFlagsFromString('--max-inlined-bytecode-size-cumulative=200');
  v8.setFlagsFromString('--no-turbo-inline-array-builtins');
}
