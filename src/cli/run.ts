/** `autopar run DIR [--steps N] [--reference REFDIR] [--transport threads|mpi] [--json]` */
import type { Command } from 'commander';
import { AutoparError } from '../errors.js';
import { printJson, runCommand } from './output.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a compiled plan on worker threads, one per device: training steps, or forward passes of an inference plan (this version: one-mesh plans, and pipelines whose stages each hold one device)')
    .argument('<dir>', 'the folder `autopar compile --out` wrote (plan.json)')
    .option('--steps <n>', 'training steps (forward passes for an inference plan)', '1')
    .option('--reference <dir>', 'take inputs (and targets) from a reference folder and compare the gradients (an inference plan: the outputs) with it')
    .option('--transport <kind>', 'threads (default) or mpi', 'threads')
    .option('--json', 'machine-readable output (CLI.md)')
    .option('--debug', 'stack traces on errors')
    .action(async (dir: string, o: { steps: string; reference?: string; transport: string; json?: boolean; debug?: boolean }) => {
      await runCommand(o.debug === true, async () => {
        const steps = Number(o.steps);
        if (!Number.isInteger(steps) || steps < 1) throw new AutoparError('E_USAGE', `--steps ${o.steps}: give a whole number of steps, at least 1`);
        if (o.transport !== 'threads' && o.transport !== 'mpi') throw new AutoparError('E_USAGE', `--transport ${o.transport}: use threads or mpi`);
        // Loaded when the command runs, not at start-up: the runtime brings tfjs in (see main.ts).
        const { runPlan } = await import('../runtime/pipeline/run-plan.js');
        const r = await runPlan(dir, { steps, reference: o.reference, transport: o.transport });
        if (o.json) return printJson(r);
        const kinds = (c: Readonly<Record<string, { count: number; bytes: number } | undefined>>): string =>
          Object.entries(c)
            .map(([k, v]) => (v ? `${k} ${v.count}x ${(v.bytes / 2 ** 20).toFixed(2)} MiB` : ''))
            .join(', ') || 'none';
        const lines = [`devices     ${r.devices}`];
        if (r.mode === 'train') lines.push(`loss        ${r.loss.map((l) => l.toPrecision(6)).join(', ')} (${r.steps} step${r.steps > 1 ? 's' : ''})`);
        else lines.push(`inference   ${r.steps} forward pass${r.steps > 1 ? 'es' : ''}`);
        if (r.mode === 'infer') for (const [name, e] of Object.entries(r.outputs ?? {})) lines.push(`output      ${name} against the reference, maxRelError ${e.maxRelError.toExponential(2)}`);
        if (r.gradients) lines.push(`gradients   ${r.gradients.count} against the reference, maxRelError ${r.gradients.maxRelError.toExponential(2)} (worst: ${r.gradients.worst})`);
        lines.push(`collectives ${kinds(r.collectives)}`, `planned     ${kinds(r.plannedCollectives)}`);
        process.stdout.write(lines.join('\n') + '\n');
      });
    });
}
