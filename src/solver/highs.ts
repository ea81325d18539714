/**
 * HiGHS (WebAssembly, npm `highs`) on a Milp. The persistent-model API takes the matrix as
 * arrays (CSR), so no LP text is printed and parsed back, and its info store gives the MIP
 * dual bound. The wasm module loads once per process.
 */
import * as highsModule from 'highs';
import type { Highs, InitOptions, ModelStatusCode } from 'highs';
import { fail } from '../errors.js';
import type { Milp } from './ilp.js';
import type { MilpOutcome } from './milp-outcome.js';

type Loader = (options?: InitOptions) => Promise<Highs>;

function isLoader(x: unknown): x is Loader {
  return typeof x === 'function';
}

/**
 * The package's types describe a CommonJS module, so TypeScript puts the loader under
 * `default.default`; Node loads the ESM build, whose default export is the loader itself.
 * Accept either shape, checked at run time.
 */
function loader(): Loader {
  const outer: unknown = highsModule.default;
  if (isLoader(outer)) return outer;
  const inner: unknown = typeof outer === 'object' && outer !== null && 'default' in outer ? outer.default : undefined;
  if (isLoader(inner)) return inner;
  return fail('E_INTERNAL', 'the highs package exports no loader function');
}

let runtime: Promise<Highs> | undefined;

function highs(): Promise<Highs> {
  runtime ??= loader()();
  return runtime;
}

/** 'solution' when the status leaves an answer to read, 'infeasible', or 'limit'. */
function classify(status: ModelStatusCode): 'solution' | 'infeasible' | 'limit' | 'error' {
  switch (status) {
    case 7:
      return 'solution';
    case 8:
    case 9: // infeasible or unbounded: every column is bounded, so infeasible
      return 'infeasible';
    case 13: // time limit
    case 14: // iteration limit
    case 16: // solution limit
    case 17: // interrupted
      return 'limit';
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 10:
    case 11:
    case 12:
    case 15:
      return 'error';
  }
}

function infoNumber(value: number | bigint): number {
  return typeof value === 'bigint' ? Number(value) : value;
}

/** `start`: column values of a feasible choice; HiGHS begins with it as its incumbent. */
/**
 * HiGHS's WebAssembly build can abort (seen on large models: the module's heap is
 * exhausted). An aborted module is dead, so it is dropped and reloaded on the next
 * call; this call answers with the warm start (the greedy plan) as a time-limited
 * incumbent, or an internal error when there is none.
 */
export async function solveWithHighs(milp: Milp, timeLimitSeconds: number | undefined, start?: Float64Array): Promise<MilpOutcome> {
  try {
    return await solveOnce(milp, timeLimitSeconds, start);
  } catch (e) {
    // WebAssembly.RuntimeError (this project's TypeScript lib has no WebAssembly types).
    if (!(e instanceof Error) || e.name !== 'RuntimeError') throw e;
    runtime = undefined;
    if (start !== undefined) return { status: 'time-limit', values: start, bound: undefined };
    return fail('E_INTERNAL', `HiGHS aborted on a model of ${milp.numCols} columns and ${milp.rows.length} rows (${e.message})`);
  }
}

async function solveOnce(milp: Milp, timeLimitSeconds: number | undefined, start?: Float64Array): Promise<MilpOutcome> {
  const h = await highs();
  const starts = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (const row of milp.rows) {
    indices.push(...row.cols);
    values.push(...row.values);
    starts.push(indices.length);
  }
  const model = h.createModel({
    numCols: milp.numCols,
    numRows: milp.rows.length,
    colCost: milp.cost,
    colLower: new Float64Array(milp.numCols),
    colUpper: new Float64Array(milp.numCols).fill(1),
    rowLower: milp.rows.map((r) => (r.lower === -Infinity ? -h.infinity : r.lower)),
    rowUpper: milp.rows.map((r) => (r.upper === Infinity ? h.infinity : r.upper)),
    matrix: { format: 'csr', numRows: milp.rows.length, numCols: milp.numCols, starts, indices, values },
    integrality: Int32Array.from(milp.binary),
  });
  try {
    model.options.set({
      output_flag: false,
      // The defaults (1e-4 relative, 1e-6 absolute) stop short of the optimum; the
      // objective is scaled to O(1), so these ask for it to ~1e-10.
      mip_rel_gap: 1e-10,
      mip_abs_gap: 1e-10,
      random_seed: 0,
    });
    if (timeLimitSeconds !== undefined) model.options.set('time_limit', Math.max(timeLimitSeconds, 1e-3));
    if (start !== undefined) model.setSolution({ colValue: start });
    const { modelStatus } = model.run();
    const kind = classify(modelStatus);
    const bound = (): number | undefined => {
      const b = infoNumber(model.info.get('mip_dual_bound'));
      return Number.isFinite(b) ? b : undefined;
    };
    const incumbent = (): Float64Array | undefined =>
      // primal_solution_status 2: a feasible primal solution is stored.
      infoNumber(model.info.get('primal_solution_status')) === 2 ? model.getSolution().colValue : undefined;
    switch (kind) {
      case 'solution': {
        const x = incumbent();
        if (x === undefined) fail('E_INTERNAL', 'HiGHS reported optimal without a primal solution');
        return { status: 'optimal', values: x, bound: bound() };
      }
      case 'infeasible':
        return { status: 'infeasible' };
      case 'limit':
        return { status: 'time-limit', values: incumbent(), bound: bound() };
      case 'error':
        return fail('E_INTERNAL', `HiGHS ended with model status ${modelStatus}`);
    }
  } finally {
    model.dispose();
  }
}
