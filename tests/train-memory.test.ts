/**
 * The 24-layer GPT training graph (graph only): its memory read off the graph against
 * the published formulas.
 * - Model states, fp32 Adam: 4Ψ parameters + 4Ψ gradients + 8Ψ moments = 16Ψ, the
 *   data-parallel row of ZeRO (Rajbhandari et al. 2020), via cost-models' formula.
 * - Activations: Korthikanti et al. 2022, §4.1, count per layer 34·sbh + 5·as²b bytes
 *   with 16-bit activations and dropout. Without dropout (its masks sbh·3 and as²b, and
 *   the dropped attention as²b·2... gone) and in fp32 (every kept tensor twice the
 *   bytes) the same accounting gives 64·sbh + 4·as²b: LayerNorm inputs 2×4sbh, QKV
 *   input 4sbh, Q, K, V 12sbh, softmax output 4as²b, projection input 4sbh, FC1 input
 *   4sbh, GELU input 16sbh, FC2 input 16sbh. The output layer adds the final LayerNorm
 *   and head inputs (8sbh) and the loss's saved log-probabilities and one-hot targets
 *   (8sbv).
 */
import { describe, expect, it } from 'vitest';
import { modelStateBytes } from '../cost-models/memory.js';
import { trainingMemory } from '../src/analysis/memory.js';
import { buildGpt, gptParameterCount } from '../src/models/gpt.js';
import { numel } from '../src/ir/host-tensor.js';
import { importOnnx } from '../src/onnx/import.js';
import { buildTrainingGraph } from '../src/training/build.js';
import { model } from './helpers/cli.js';

describe('training memory of a 24-layer GPT', () => {
  const c = { layers: 24, hidden: 1024, heads: 16, seq: 1024, vocab: 50257, batch: 4 } as const;
  const fwd = buildGpt({ ...c, weights: 'external' });
  const t0 = performance.now();
  const tg = buildTrainingGraph(fwd, { loss: 'cross_entropy', optimizer: { kind: 'adam', lr: 1e-4 } });
  const buildSeconds = (performance.now() - t0) / 1000;
  const m = trainingMemory(tg);
  const psi = gptParameterCount(c);
  const [L, h, a, s, b, v] = [c.layers, c.hidden, c.heads, c.seq, c.batch, c.vocab];

  it('builds in seconds (forward + loss + autodiff + Adam, about 7k nodes)', () => {
    // Half a second on a shared two-core machine; the bound only catches a blow-up.
    expect(tg.graph.nodes.length).toBeGreaterThan(5000);
    expect(buildSeconds).toBeLessThan(10);
  });

  it('counts the parameters of the architecture', () => {
    expect(m.parameters).toBe(4 * psi);
  });

  it('model states match the ZeRO data-parallel formula (16Ψ for Adam) within 10%', () => {
    const want = modelStateBytes({ parameters: psi, optimizer: 'adam', precision: 'fp32' });
    const got = m.parameters + m.gradients + m.optimizerStates;
    expect(Math.abs(got - want.total) / want.total).toBeLessThan(0.1);
    expect(Math.abs(m.optimizerStates - want.optimizerStates) / want.optimizerStates).toBeLessThan(0.1);
  });

  it('activations kept for the backward pass match the activation formula within 10%', () => {
    const want = L * (64 * s * b * h + 4 * a * s * s * b) + 8 * s * b * h + 8 * s * b * v;
    expect(Math.abs(m.activations - want) / want).toBeLessThan(0.1);
  });

  it('the peak holds at least the model states and the saved activations', () => {
    expect(m.peak).toBeGreaterThanOrEqual(m.parameters + m.optimizerStates + m.activations);
    expect(m.peak).toBeLessThan(2 * (m.parameters + m.gradients + m.optimizerStates + m.activations));
  });
});

describe('training graph of the exported gpt_350m.onnx (graph only)', () => {
  const { graph } = importOnnx(model('gpt_350m.onnx'), { dims: { batch: 1 } });
  const t0 = performance.now();
  const tg = buildTrainingGraph(graph, { loss: 'cross_entropy', optimizer: { kind: 'adam', lr: 1e-4 } });
  const buildSeconds = (performance.now() - t0) / 1000;
  const m = trainingMemory(tg);

  it('builds in seconds', () => {
    expect(buildSeconds).toBeLessThan(10);
  });

  it('model states match the ZeRO data-parallel formula (16Ψ for Adam) within 10%', () => {
    // Ψ counts the shared LayerNorm initializers once: a tied parameter has one gradient and one state.
    const psi = tg.params.reduce((n, p) => n + numel(graph.initializers.get(p)?.type.shape.map(Number) ?? []), 0);
    expect(psi).toBeGreaterThan(4e8);
    const want = modelStateBytes({ parameters: psi, optimizer: 'adam', precision: 'fp32' });
    expect(Math.abs(m.parameters + m.gradients + m.optimizerStates - want.total) / want.total).toBeLessThan(0.1);
    expect(Math.abs(m.optimizerStates - want.optimizerStates) / want.optimizerStates).toBeLessThan(0.1);
  });
});
