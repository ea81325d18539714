/**
 * Whether a command line plans with a pipeline search, which runs its micro-batch counts
 * in planning threads; main.ts then starts those threads before loading the rest of the
 * command line (see plan-threads.ts). Light on purpose: it runs before everything else.
 */
import { prewarmPlanThreads } from '../planner/plan-threads.js';

/** Options whose plan is one mesh, planned in this thread. */
const ONE_MESH = ['--mesh', '--pin', '--print-ir-after'];

/**
 * `compile` or `compare` of a model on a cluster file, without an option that keeps the
 * plan on one mesh. A cluster of one host is planned on one mesh too; that is only known
 * once the file is read, and the threads started for it are then dropped (planModel).
 * The bundled example (no model) is such a cluster, so it starts none.
 */
export function searchesPipeline(args: readonly string[]): boolean {
  const [command, ...rest] = args;
  if (command !== 'compile' && command !== 'compare') return false;
  const value = (name: string): string | undefined => {
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i] ?? '';
      if (a === name) return rest[i + 1];
      if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
    }
    return undefined;
  };
  if (rest.some((a) => a === '-h' || a === '--help' || ONE_MESH.some((o) => a === o || a.startsWith(`${o}=`)))) return false;
  if (value('--cluster') === undefined || value('--mode') === 'infer') return false;
  const strategy = value('--strategy');
  // auto and pipeline search; a grid searches when it has stages (pp above 1).
  return strategy === undefined || strategy === 'auto' || strategy === 'pipeline' || /(^|,)pp=0*[2-9]|(^|,)pp=0*[1-9]\d/.test(strategy);
}

/** Starts the planning threads when the command line will want them. */
export function prewarmFor(args: readonly string[]): void {
  if (searchesPipeline(args)) prewarmPlanThreads();
}
