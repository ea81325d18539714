/**
 * Pinned shardings from the API (the CLI's `--pin FILE` is in compile-cli.test.ts): a
 * pinned value keeps its layout, the ILP plans the rest around it (neighbours change),
 * and a pin can only cost time, never save it. The pins chosen here are layouts `auto`
 * does not pick by itself, so an ignored pin fails.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, compileModel } from '../src/api.js';
import { buildPlanJson, type PlanJson } from '../src/planner/plan-json.js';
import { model, ROOT } from './helpers/cli.js';

const CLUSTER4 = path.join(ROOT, 'examples', 'clusters', '1x4-a100.yaml');
const base = { model: model('mlp.onnx'), cluster: CLUSTER4, mesh: [4] } as const;

const paramDims = (p: PlanJson): Map<string, string> => new Map((p.stages[0]?.parameters ?? []).map((x) => [x.name, JSON.stringify(x.sharding.dims)]));

describe('pinned shardings through the API', () => {
  it('compile({pin}) keeps a pinned weight layout auto would not choose, re-plans its neighbours, and costs no less', async () => {
    const free = await compile(base);
    const freeDims = paramDims(free.planJson);
    // Unpinned, auto splits layers.1.weight by columns; pin it by rows, then replicated.
    expect(freeDims.get('layers.1.weight')).toBe('[[],["x"]]');
    for (const [pin, want] of [
      ['[x, -]', '[["x"],[]]'],
      ['[-, -]', '[[],[]]'],
    ] as const) {
      const pinned = await compile({ ...base, pin: { 'layers.1.weight': pin } });
      const dims = paramDims(pinned.planJson);
      expect(dims.get('layers.1.weight'), pin).toBe(want);
      expect(pinned.stepTimeSeconds, pin).toBeGreaterThanOrEqual(free.stepTimeSeconds * (1 - 1e-12));
      if (pin === '[x, -]') {
        // The rest is planned around the pin, not left as it was: layers.2 now splits by columns.
        expect(dims.get('layers.2.weight')).toBe('[[],["x"]]');
        expect(freeDims.get('layers.2.weight')).toBe('[["x"],[]]');
      }
    }
  });

  it('compileModel({pin}) takes a ShardingSpec object for an activation, and the plan reads it there', async () => {
    const free = await compileModel(base);
    const c = await compileModel({ ...base, pin: { x: { dims: [[], ['x']], partial: [] } } });
    // Unpinned, the input stays replicated; pinned, it is split by columns.
    expect(free.best.plan.layouts.get('x')).toEqual({ dims: [[], []], partial: [] });
    expect(c.best.plan.layouts.get('x')).toEqual({ dims: [[], ['x']], partial: [] });
    // The first Gemm then contracts over the split columns: its weight follows the pin.
    expect(paramDims(buildPlanJson(c)).get('layers.0.weight')).toBe('[[],["x"]]');
    expect(buildPlanJson(free).cost.stepTimeSeconds).toBeLessThanOrEqual(buildPlanJson(c).cost.stepTimeSeconds * (1 + 1e-12));
  });

  it('an illegal pin names the value and says why', async () => {
    await expect(compile({ ...base, pin: { 'layers.1.weight': '[x, x]' } })).rejects.toThrow(/layers\.1\.weight.*axis 'x' is used twice/);
  });
});
