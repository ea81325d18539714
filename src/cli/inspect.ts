/** `autopar inspect MODEL [--dim NAME=VALUE]... [--json] [--print-ir]` */
import type { Command } from 'commander';
import { AutoparError } from '../errors.js';
import { inspectModel } from '../inspect.js';
import { IMPORT_PASSES } from '../onnx/import.js';
import { collect, parseDims, printJson, runCommand } from './output.js';

function human(n: number): string {
  const units = ['', 'K', 'M', 'G', 'T', 'P', 'E'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(2)}${units[i]}`;
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('import a model (weights not needed) and report its size, FLOPs, ops, inputs and outputs')
    .argument('<model>', 'ONNX file')
    .option('--dim <NAME=VALUE>', 'bind a symbolic dimension (repeatable)', collect)
    .option('--json', 'machine-readable output (CLI.md)')
    .option('--print-ir [PASS]', "print the IR to stderr after PASS ('infer-shapes', 'dce' or 'all'; default 'dce')")
    .option('--debug', 'stack traces on errors')
    .action(async (model: string, o: { dim?: string[]; json?: boolean; printIr?: string | boolean; debug?: boolean }) => {
      await runCommand(o.debug === true, async () => {
        const printIrAfter = o.printIr === undefined ? undefined : typeof o.printIr === 'string' ? o.printIr : 'dce';
        const passes: readonly string[] = [...IMPORT_PASSES, 'all'];
        if (printIrAfter !== undefined && !passes.includes(printIrAfter)) {
          throw new AutoparError('E_USAGE', `--print-ir must be one of ${passes.join(', ')}, got '${printIrAfter}'`);
        }
        const r = inspectModel(model, { dims: parseDims(o.dim), printIrAfter });
        if (o.json) return printJson(r);
        const lines = [
          `model       ${r.model} (opset ${r.opset}, ${r.nodes} nodes)`,
          `parameters  ${r.parameters.toLocaleString('en-US')} (${human(r.parameterBytes)}B)`,
          `forward     ${human(r.forwardFlops)}FLOP per pass`,
          ...r.inputs.map((i) => `input       ${i.name}: ${i.dtype}[${i.shape.join(',')}]`),
          ...r.outputs.map((i) => `output      ${i.name}: ${i.dtype}[${i.shape.join(',')}]`),
          `ops         ${Object.entries(r.ops).map(([k, v]) => `${k}:${v}`).join(' ')}`,
        ];
        if (r.defaultedDims.length) lines.push(`note        unbound dims took the default 1: ${r.defaultedDims.join(', ')} (bind with --dim NAME=VALUE)`);
        if (r.externalWeights.length) lines.push(`weights     external, not read: ${r.externalWeights.join(', ')}`);
        process.stdout.write(lines.join('\n') + '\n');
      });
    });
}
