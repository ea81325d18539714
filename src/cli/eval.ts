/** `autopar eval MODEL --reference DIR [--train] [--save OUTDIR] [--json]` */
import type { Command } from 'commander';
import { collect, parseDims, printJson, runCommand } from './output.js';

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description("run a model on one device with a reference folder's inputs and compare the outputs")
    .argument('<model>', 'ONNX file (weights needed)')
    .requiredOption('--reference <dir>', 'reference folder (manifest.json + raw arrays)')
    .option('--dim <NAME=VALUE>', 'bind a symbolic dimension (repeatable; default: from the reference inputs)', collect)
    .option('--train', 'also compute the loss and every initializer gradient')
    .option('--save <outdir>', 'write what was computed as a reference folder')
    .option('--json', 'machine-readable output (CLI.md)')
    .option('--debug', 'stack traces on errors')
    .action(async (model: string, o: { reference: string; dim?: string[]; train?: boolean; save?: string; json?: boolean; debug?: boolean }) => {
      await runCommand(o.debug === true, async () => {
        // Loaded when the command runs, not at start-up: it brings tfjs in (see main.ts).
        const { evaluateModel } = await import('../evaluate.js');
        const r = await evaluateModel(model, { reference: o.reference, dims: parseDims(o.dim), save: o.save, train: o.train === true });
        if (o.json) return printJson(r);
        const lines = [`model    ${r.model} on ${r.backend} (${r.seconds.toFixed(3)} s)`];
        for (const [n, e] of Object.entries(r.outputs)) lines.push(`output   ${n}: maxRelError ${e.maxRelError.toExponential(2)}, maxAbsError ${e.maxAbsError.toExponential(2)}`);
        if (r.loss) lines.push(`loss     ${r.loss.value.toPrecision(8)} (reference ${r.loss.reference.toPrecision(8)}, relError ${r.loss.relError.toExponential(2)})`);
        if (r.gradients) lines.push(`grads    ${r.gradients.count} tensors, maxRelError ${r.gradients.maxRelError.toExponential(2)} (worst: ${r.gradients.worst})`);
        process.stdout.write(lines.join('\n') + '\n');
      });
    });
}
