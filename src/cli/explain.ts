/** `autopar explain DIR`: the plan in DIR/plan.json, layer by layer, in words. */
import type { Command } from 'commander';
import { explainPlan } from '../explain/layers.js';
import { readPlanJson } from '../explain/read-plan.js';
import { explanationText } from '../explain/text.js';
import { printJson, runCommand } from './output.js';

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description("say per layer how DIR/plan.json shards it, what collectives it costs, and the best alternative's cost")
    .argument('<dir>', 'a folder `autopar compile` wrote (or its plan.json)')
    .option('--json', 'machine-readable output (CLI.md)')
    .option('--debug', 'stack traces on errors')
    .action(async (dir: string, o: { json?: boolean; debug?: boolean }) => {
      await runCommand(o.debug === true, async () => {
        const { plan } = readPlanJson(dir);
        const e = explainPlan(plan);
        if (o.json) return printJson(e);
        process.stdout.write(explanationText(e));
      });
    });
}
