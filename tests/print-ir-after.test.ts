/** `autopar compile --print-ir-after PASS`: the IR after each pass on stderr, and a clear error where it does not apply. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { model, runCli } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autopar-print-ir-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('compile --print-ir-after', () => {
  it('prints the training graph, and after intra-op each op strategy and value layout', async () => {
    const base = ['compile', model('mlp.onnx'), '--cluster', 'examples/clusters/1x2-a100.yaml', '--strategy', 'megatron', '--json'];
    const [training, intra] = await Promise.all([runCli([...base, '--out', path.join(tmp, 'a'), '--print-ir-after', 'training']), runCli([...base, '--out', path.join(tmp, 'b'), '--print-ir-after', 'intra-op'])]);
    expect(training.status).toBe(0);
    expect(training.stderr).toMatch(/^# IR after training\ngraph /);
    // The training graph holds the optimizer's states and updates.
    expect(training.stderr).toMatch(/adam_m/);
    expect(intra.stderr).toMatch(/# mesh 2 \(x\): strategy per op, layout per value/);
    expect(intra.stderr).toMatch(/\n\/layers\.0\/Gemm: \S+/);
    expect(intra.stderr).toMatch(/\nlayers\.0\.weight \[x, -\]\n/);
  }, 120_000);

  it('refuses an unknown pass and a pipelined plan, naming the flag', async () => {
    const [bad, piped] = await Promise.all([
      runCli(['compile', model('mlp.onnx'), '--cluster', 'examples/clusters/1x2-a100.yaml', '--out', path.join(tmp, 'c'), '--print-ir-after', 'bogus']),
      runCli(['compile', model('mlp.onnx'), '--cluster', 'examples/clusters/1x2-a100.yaml', '--strategy', 'pipeline', '--out', path.join(tmp, 'd'), '--print-ir-after', 'training']),
    ]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--print-ir-after must be one of import, unfuse-projections, training, intra-op, got 'bogus'/);
    expect(piped.status).not.toBe(0);
    expect(piped.stderr).toMatch(/--print-ir-after prints the passes of a one-mesh plan; this plan is pipelined/);
  }, 120_000);
});
