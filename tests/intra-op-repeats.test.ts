/**
 * Repeated layers (passes/intra-op/repeat.ts): corresponding ops of identical transformer
 * blocks are tied to one strategy choice, so the solver sees one representative; the
 * blocks within the refinement's reach of the graph's ends look different and stay free.
 * Tying costs nothing on a GPT: the tied and the untied optimum are the same plan time.
 */
import { describe, expect, it } from 'vitest';
import { buildGpt } from '../src/models/gpt.js';
import { compileModel, type Compiled } from '../src/planner/compile.js';

const A100x4 = 'examples/clusters/1x4-a100.yaml';
const LAYERS = 8;

async function plan(tieRepeats: boolean): Promise<Compiled> {
  const graph = buildGpt({ layers: LAYERS, hidden: 128, heads: 4, seq: 64, vocab: 64, batch: 4, weights: 'external' });
  return compileModel({ model: { graph, name: 'gpt' }, cluster: A100x4, loss: 'cross-entropy', mesh: [4], tieRepeats });
}

/** For each forward MatMul reading `blocks.B.W.weight`: W -> (tie group id -> blocks). */
function weightMatmulTies(c: Compiled): Map<string, Map<string, number[]>> {
  const ip = c.best.plan.problem;
  const tieOf = new Map<number, string>();
  ip.problem.ties.forEach((t, k) => t.forEach((v) => tieOf.set(v, `tie${k}`)));
  const out = new Map<string, Map<string, number[]>>();
  for (const n of c.graph.nodes.slice(0, c.training?.forwardNodes ?? 0)) {
    const m = /^blocks\.(\d+)\.(proj|fc|out)\.weight$/.exec(n.inputs[1] ?? '');
    if (n.op !== 'MatMul' || !m) continue;
    const v = ip.opIndex.get(n.name);
    const group = (v !== undefined ? tieOf.get(v) : undefined) ?? `alone:${n.name}`;
    const byGroup = out.get(m[2] ?? '') ?? new Map<string, number[]>();
    byGroup.set(group, [...(byGroup.get(group) ?? []), Number(m[1])]);
    out.set(m[2] ?? '', byGroup);
  }
  return out;
}

describe('repeated transformer blocks', () => {
  it('ties the weight matmuls of the interior blocks into one choice each, at no cost in plan time', async () => {
    const tied = await plan(true);
    const ties = weightMatmulTies(tied);
    expect([...ties.keys()].sort()).toEqual(['fc', 'out', 'proj']);
    for (const [w, groups] of ties) {
      const largest = [...groups.values()].reduce((a, b) => (b.length > a.length ? b : a), []);
      // Blocks 2..5 of 8: the two at each end are within reach of the embedding and the loss.
      expect(largest, `${w}: one tie over the interior blocks`).toEqual([2, 3, 4, 5]);
    }
    // A tie is a restriction: the tied plan is one the untied solve could pick, and here
    // it loses nothing (up to the 1e-14 s/byte memory tie-break).
    const free = await plan(false);
    for (const groups of weightMatmulTies(free).values()) expect([...groups.values()].every((g) => g.length === 1)).toBe(true);
    expect(free.best.plan.objective).toBeLessThanOrEqual(tied.best.plan.objective * (1 + 1e-9));
    expect(tied.best.plan.objective).toBeLessThanOrEqual(free.best.plan.objective * (1 + 1e-9));
    // On a one-axis mesh variable elimination solves the untied problem exactly, which the
    // tied one (one node coupled to every interior block) would hand to the ILP: the
    // pass takes that exact optimum.
    expect(tied.best.plan.solution.solver).toBe('elimination');
    expect(tied.best.plan.solution.status).toBe('optimal');
  }, 120_000);
});
