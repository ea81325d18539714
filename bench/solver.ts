/**
 * HiGHS vs glpk.js on the same random intra-op problems of growing size (a tree backbone
 * plus skip edges, 8-16 strategies per node, one binding memory budget), side by side.
 * Run: `npx tsc -p tsconfig.json && node dist/bench/solver.js [--sizes 50,200,800]
 *       [--time-limit 60] [--seed 1] [--json]`.
 * Each solver is warmed up on a small problem first (loading and compiling the wasm is not
 * what is compared). The machine may be shared: compare the ratios within one run.
 * glpk.js's limit does not cover its presolve and root LP, so it can overrun the limit.
 * A second table: HiGHS on the ILP of the problem as generated (no reduction, no greedy
 * start) against solve() with HiGHS (exact reduction first), to show what the reduction buys.
 */
import { reduce, relaxationBound, solve, type Solution, type SolverName } from '../src/solver/index.js';
import { buildIlp } from '../src/solver/ilp.js';
import { greedy } from '../src/solver/greedy.js';
import { evaluate } from '../src/solver/evaluate.js';
import { layeredProblem } from '../src/solver/random-problem.js';
import { solveWithHighs } from '../src/solver/highs.js';
import type { Problem } from '../src/solver/index.js';

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const sizes = (flag('--sizes') ?? '50,200,800').split(',').map(Number);
const timeLimit = Number(flag('--time-limit') ?? '60');
const seed = Number(flag('--seed') ?? '1');
const json = process.argv.includes('--json');
const solvers: readonly SolverName[] = ['highs', 'glpk'];
if (sizes.some((n) => !Number.isInteger(n) || n < 2) || !(timeLimit > 0)) {
  console.error('usage: node dist/bench/solver.js [--sizes 50,200,800] [--time-limit 60] [--seed 1] [--json]');
  process.exit(2);
}

const shape = (nodes: number) => ({ nodes, minStrategies: 8, maxStrategies: 16, extraEdgeRatio: 0.3, memoryTightness: 0.3 });

for (const solver of solvers) await solve(layeredProblem(seed + 1000, shape(40)), { solver, timeLimitSeconds: 10 });

interface Row {
  readonly nodes: number;
  readonly edges: number;
  readonly ilp: { readonly columns: number; readonly rows: number };
  readonly greedy: number;
  readonly relaxationBound: number;
  readonly results: Record<SolverName, Pick<Solution, 'status' | 'objective' | 'bound' | 'gap' | 'seconds' | 'solver'>>;
  /** HiGHS on the ILP of the problem as given (no reduction, no greedy start). */
  readonly flat: { readonly columns: number; readonly rows: number; readonly status: string; readonly objective: number | null; readonly seconds: number };
}

/** HiGHS on the unreduced problem's ILP (the problems here have no ties, so it is the same problem). */
async function flatHighs(p: Problem): Promise<Row['flat']> {
  if (p.ties.length > 0) throw new Error('flatHighs: a problem with ties needs the reduction');
  const t0 = performance.now();
  const milp = buildIlp(p);
  const out = await solveWithHighs(milp, timeLimit);
  const seconds = (performance.now() - t0) / 1000;
  const values = out.status === 'infeasible' ? undefined : out.values;
  const objective = values === undefined ? null : evaluate(p, milp.decode(values)).objective;
  return { columns: milp.numCols, rows: milp.rows.length, status: out.status, objective, seconds };
}

const rows: Row[] = [];
for (const nodes of sizes) {
  const p = layeredProblem(seed + nodes, shape(nodes));
  const r = reduce(p);
  const milp = buildIlp(r.problem);
  const results: Partial<Row['results']> = {};
  for (const solver of solvers) {
    const s = await solve(p, { solver, timeLimitSeconds: timeLimit });
    results[solver] = { status: s.status, objective: s.objective, bound: s.bound, gap: s.gap, seconds: s.seconds, solver: s.solver };
    if (!json) console.error(`  ${nodes} nodes, ${solver}: ${s.status} in ${s.seconds.toFixed(2)} s`);
  }
  const { highs, glpk } = results;
  if (highs === undefined || glpk === undefined) throw new Error('a solver did not run');
  const flat = await flatHighs(p);
  if (!json) console.error(`  ${nodes} nodes, highs on the flat ILP: ${flat.status} in ${flat.seconds.toFixed(2)} s`);
  rows.push({
    nodes,
    edges: p.edges.length,
    ilp: { columns: milp.numCols, rows: milp.rows.length },
    greedy: evaluate(p, r.expand(greedy(r.problem))).objective,
    relaxationBound: relaxationBound(r.problem) + r.offset,
    results: { highs, glpk },
    flat,
  });
}

if (json) {
  // JSON has no Infinity (stringify would write null): gaps and bounds may be infinite.
  const finite = (_key: string, value: unknown): unknown => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value);
  console.log(JSON.stringify({ timeLimitSeconds: timeLimit, seed, rows }, finite, 2));
} else {
  const ms = (x: number): string => `${x.toFixed(2)} s`.padStart(9);
  const obj = (x: number): string => x.toExponential(5).padStart(12);
  const gap = (x: number): string => (x === Infinity ? 'inf' : `${(x * 100).toFixed(3)}%`).padStart(9);
  console.log(`time limit ${timeLimit} s per solve, seed ${seed}; objective in seconds per step (lower is better)`);
  console.log(`${'nodes'.padStart(5)} ${'ILP cols x rows'.padStart(16)} | ${'highs time'.padStart(9)} ${'objective'.padStart(12)} ${'gap'.padStart(9)} ${'status'.padEnd(10)} | ${'glpk time'.padStart(9)} ${'objective'.padStart(12)} ${'gap'.padStart(9)} ${'status'.padEnd(10)} | time glpk/highs  obj glpk/highs  greedy/highs`);
  for (const row of rows) {
    const { highs, glpk } = row.results;
    console.log(
      `${String(row.nodes).padStart(5)} ${`${row.ilp.columns} x ${row.ilp.rows}`.padStart(16)} | ${ms(highs.seconds)} ${obj(highs.objective)} ${gap(highs.gap)} ${highs.status.padEnd(10)} | ${ms(glpk.seconds)} ${obj(glpk.objective)} ${gap(glpk.gap)} ${glpk.status.padEnd(10)} | ${(glpk.seconds / highs.seconds).toFixed(2).padStart(15)} ${(glpk.objective / highs.objective).toFixed(4).padStart(14)} ${(row.greedy / highs.objective).toFixed(4).padStart(13)}`,
    );
  }
  console.log('the same problems without the reduction (HiGHS on the flat ILP, no greedy start) against solve() (reduction, then HiGHS):');
  console.log(`${'nodes'.padStart(5)} ${'flat cols x rows'.padStart(17)} ${'flat time'.padStart(9)} ${'objective'.padStart(12)} ${'status'.padEnd(10)} | ${'reduced cols x rows'.padStart(19)} ${'time'.padStart(9)} | flat/reduced time  obj`);
  for (const row of rows) {
    const { flat } = row;
    const { highs } = row.results;
    console.log(
      `${String(row.nodes).padStart(5)} ${`${flat.columns} x ${flat.rows}`.padStart(17)} ${ms(flat.seconds)} ${flat.objective === null ? '-'.padStart(12) : obj(flat.objective)} ${flat.status.padEnd(10)} | ${`${row.ilp.columns} x ${row.ilp.rows}`.padStart(19)} ${ms(highs.seconds)} | ${(flat.seconds / highs.seconds).toFixed(2).padStart(17)}  ${flat.objective === null ? '-' : (flat.objective / highs.objective).toFixed(4)}`,
    );
  }
}
