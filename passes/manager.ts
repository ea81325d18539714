/**
 * Runs named graph passes in order, times each, verifies the IR after each, and can
 * print the IR after a chosen one (`--print-ir-after NAME`).
 */
import type { Graph } from '../src/ir/types.js';
import { verifyGraph } from '../src/ir/verify.js';
import { printGraph } from '../src/ir/print.js';

export interface GraphPass {
  readonly name: string;
  readonly run: (g: Graph) => Graph;
}

export interface PassTiming {
  readonly pass: string;
  readonly seconds: number;
}

export interface RunOptions {
  readonly verify?: boolean;
  readonly printAfter?: string;
  readonly print?: (text: string) => void;
}

export function runPasses(g: Graph, passes: readonly GraphPass[], opts: RunOptions = {}): { graph: Graph; timings: PassTiming[] } {
  const timings: PassTiming[] = [];
  let cur = g;
  for (const p of passes) {
    const t0 = performance.now();
    cur = p.run(cur);
    if (opts.verify !== false) verifyGraph(cur, p.name);
    timings.push({ pass: p.name, seconds: (performance.now() - t0) / 1000 });
    if (opts.printAfter === p.name || opts.printAfter === 'all') (opts.print ?? ((s) => process.stderr.write(s)))(`// after ${p.name}\n${printGraph(cur)}`);
  }
  return { graph: cur, timings };
}
