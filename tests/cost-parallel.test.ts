/** Tensor parallelism's communication (Megatron-LM) and the pipeline bubble, from the model. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { inFlightMicrobatches, pipelineBubbleFraction } from '../cost-models/pipeline.js';
import { megatronTransformerLayer, tensorParallelCollectives, type LinearLayer } from '../cost-models/tensor-parallel.js';
import { loadCluster } from '../src/cluster/load.js';
import { commGroup, logicalMesh } from '../src/cluster/mesh.js';

const model = analyticalCostModel();
const EXAMPLES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'clusters');

describe('Megatron tensor parallelism: per transformer layer per micro-batch', () => {
  const b = 4;
  const s = 2048;
  const h = 4096;

  it.each([2, 4, 8])('degree %i: 2 all-reduces forward and 2 backward, each of b·s·h elements', (t) => {
    const cs = tensorParallelCollectives(b * s, megatronTransformerLayer(h), t);
    const summary = cs.map((c) => `${c.phase} ${c.kind} ${c.elements}`).sort();
    expect(summary).toEqual([...Array(2).fill(`backward all-reduce ${b * s * h}`), ...Array(2).fill(`forward all-reduce ${b * s * h}`)]);
  });

  it('degree 1 needs no communication', () => {
    expect(tensorParallelCollectives(b * s, megatronTransformerLayer(h), 1)).toEqual([]);
  });

  it('their time on the 8 NVLink devices of a host: 4 ring all-reduces of b·s·h fp16 values', () => {
    const c = loadCluster(path.join(EXAMPLES, '1x8-a100.yaml'));
    const mesh = logicalMesh(c, [8]);
    const axis = mesh.axes[0];
    if (!axis) throw new Error('no axis');
    const bytes = b * s * h * 2;
    const total = tensorParallelCollectives(b * s, megatronTransformerLayer(h), 8).reduce(
      (sum, coll) => sum + model.collective({ kind: coll.kind, bytes: coll.elements * 2 }, commGroup(mesh, ['x'])).seconds,
      0,
    );
    const n = 8;
    expect(total).toBeCloseTo(4 * (2 * (n - 1) * axis.alpha + ((2 * (n - 1)) / n) * bytes * axis.beta), 9);
  });

  it('two column-split linears in a row need an all-gather between them (and a reduce-scatter back)', () => {
    const layers: LinearLayer[] = [
      { name: 'a', inFeatures: h, outFeatures: h, split: 'column' },
      { name: 'b', inFeatures: h, outFeatures: h, split: 'column' },
    ];
    const kinds = tensorParallelCollectives(s, layers, 4).map((c) => `${c.layer} ${c.phase} ${c.kind}`);
    expect(kinds).toEqual(['a backward all-reduce', 'b forward all-gather', 'b backward reduce-scatter']);
  });
});

describe('pipeline bubble', () => {
  it.each([
    [2, 1],
    [4, 8],
    [8, 32],
    [16, 64],
  ])('p = %i stages, m = %i micro-batches: bubble / ideal = (p-1)/m', (p, m) => {
    const t = 0.01;
    const est = model.pipeline({ stageSeconds: Array(p).fill(t), microbatches: m, schedule: '1f1b' });
    expect(est.bubbleSeconds / est.idealSeconds).toBeCloseTo((p - 1) / m, 12);
    expect(pipelineBubbleFraction(p, m)).toBeCloseTo((p - 1) / m, 15);
    expect(est.seconds).toBeCloseTo((m + p - 1) * t, 12);
  });

  it('the slowest stage sets the pace', () => {
    const est = model.pipeline({ stageSeconds: [1, 3, 2], microbatches: 4, schedule: 'gpipe' });
    expect(est.seconds).toBe(1 + 3 + 2 + 3 * 3);
  });

  it('1F1B keeps at most p - i micro-batches on stage i, GPipe all m', () => {
    expect([0, 1, 2, 3].map((i) => inFlightMicrobatches('1f1b', 4, i, 8))).toEqual([4, 3, 2, 1]);
    expect([0, 1, 2, 3].map((i) => inFlightMicrobatches('1f1b', 4, i, 2))).toEqual([2, 2, 2, 1]);
    expect(inFlightMicrobatches('gpipe', 4, 0, 8)).toBe(8);
  });
});
