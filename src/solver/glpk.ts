/**
 * GLPK (WebAssembly, npm `glpk.js`, synchronous Node build) on a Milp. glpk.js takes
 * named variables and rows, and returns the incumbent and a status but no dual bound.
 */
import type { LP } from 'glpk.js/node';
import { AutoparError, fail } from '../errors.js';
import type { Milp } from './ilp.js';
import type { MilpOutcome } from './milp-outcome.js';

type Glpk = Awaited<ReturnType<typeof import('glpk.js/node').default>>;
let runtime: Promise<Glpk> | undefined;

/**
 * glpk.js is GPL-3.0 and autopar Apache-2.0, so it is a development dependency loaded
 * on demand: `--solver glpk` works where it is installed (tests, benchmarks) and says
 * how to get it elsewhere. HiGHS (MIT) is the default and always present.
 */
function glpk(): Promise<Glpk> {
  runtime ??= import('glpk.js/node').then(
    (m) => m.default(),
    () => {
      throw new AutoparError('E_USAGE', "--solver glpk needs the optional package glpk.js (GPL-3.0): npm install glpk.js; or use --solver highs");
    },
  );
  return runtime;
}

const name = (col: number): string => `x${col}`;

export async function solveWithGlpk(milp: Milp, timeLimitSeconds: number | undefined): Promise<MilpOutcome> {
  const g = await glpk();
  const objectiveVars: { name: string; coef: number }[] = [];
  for (let j = 0; j < milp.numCols; j++) objectiveVars.push({ name: name(j), coef: milp.cost[j] ?? 0 });
  const binaries: string[] = [];
  const bounds: NonNullable<LP['bounds']> = [];
  for (let j = 0; j < milp.numCols; j++) {
    if (milp.binary[j]) binaries.push(name(j));
    else bounds.push({ name: name(j), type: g.GLP_DB, lb: 0, ub: 1 });
  }
  const lp: LP = {
    name: 'intra-op',
    objective: { direction: g.GLP_MIN, name: 'cost', vars: objectiveVars },
    subjectTo: milp.rows.map((row, r) => ({
      name: `r${r}`,
      vars: row.cols.map((col, t) => ({ name: name(col), coef: row.values[t] ?? 0 })),
      bnds:
        row.lower === row.upper
          ? { type: g.GLP_FX, lb: row.lower, ub: row.upper }
          : row.lower === -Infinity
            ? { type: g.GLP_UP, lb: 0, ub: row.upper }
            : { type: g.GLP_DB, lb: row.lower, ub: row.upper },
    })),
    bounds,
    binaries,
  };
  const result = g.solve(lp, {
    msglev: g.GLP_MSG_OFF,
    presol: true,
    mipgap: 0,
    ...(timeLimitSeconds === undefined ? {} : { tmlim: Math.max(timeLimitSeconds, 1e-3) }),
  });
  const values = (): Float64Array => {
    const x = new Float64Array(milp.numCols);
    for (let j = 0; j < milp.numCols; j++) x[j] = result.result.vars[name(j)] ?? 0;
    return x;
  };
  const status = result.result.status;
  // glp_mip_status codes: the constants are data on the module object, so compare, not switch.
  if (status === g.GLP_OPT) return { status: 'optimal', values: values(), bound: undefined };
  if (status === g.GLP_FEAS) return { status: 'time-limit', values: values(), bound: undefined };
  if (status === g.GLP_UNDEF) return { status: 'time-limit', values: undefined, bound: undefined };
  if (status === g.GLP_NOFEAS || status === g.GLP_INFEAS) return { status: 'infeasible' };
  return fail('E_INTERNAL', `glpk.js ended with status ${status}`);
}
