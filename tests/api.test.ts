/** The package entry point as users import it (`import { compileModel } from 'autopar'`), built to dist/. */
import { describe, expect, it } from 'vitest';
import { runNode } from './helpers/cli.js';

describe("import from 'autopar'", () => {
  it('exposes the planner and its results through the package exports map', async () => {
    const script = `
      const m = await import('autopar');
      const c = await m.compileModel({ model: 'tests/fixtures/models/mlp.onnx', cluster: 'examples/clusters/1x2-a100.yaml' });
      const plan = m.buildPlanJson(c);
      const summary = m.compileSummary(c, plan);
      console.log(JSON.stringify({ devices: summary.devices, step: summary.stepTimeSeconds, params: plan.stages[0].parameters.length, hasTrain: typeof m.buildTrainingGraph }));
    `;
    const r = await runNode(['--input-type=module', '-e', script], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { devices: number; step: number; params: number; hasTrain: string };
    expect(out.devices).toBe(2);
    expect(out.step).toBeGreaterThan(0);
    expect(out.params).toBe(6);
    expect(out.hasTrain).toBe('function');
  }, 90_000);
});
