/** `autopar eval MODEL --reference DIR [--train] [--save OUTDIR] [--json]` (placeholder until the executor lands). */
import type { Command } from 'commander';

export function registerEval(program: Command): void {
  void program;
}
