/** Model states with ZeRO (Rajbhandari et al. 2020) and the liveness peak of buffers. */
import { describe, expect, it } from 'vitest';
import { analyticalCostModel } from '../cost-models/cost-model.js';
import type { BufferLife, ZeroStage } from '../cost-models/memory.js';

const model = analyticalCostModel();
const GB = 1e9;

describe('ZeRO: Ψ = 7.5B parameters, N = 64, mixed-precision Adam', () => {
  const psi = 7.5e9;
  const N = 64;
  const at = (zeroStage: ZeroStage) => model.modelStates({ parameters: psi, optimizer: 'adam', precision: 'mixed', dataParallel: N, zeroStage }).total / GB;

  it('the paper figures: 120 / 31.4 / 16.6 / 1.9 GB', () => {
    expect(at(0)).toBeCloseTo(120, 1);
    expect(at(1)).toBeCloseTo(31.4, 1);
    expect(at(2)).toBeCloseTo(16.6, 1);
    expect(at(3)).toBeCloseTo(1.9, 1);
  });

  it('the formulas: 16Ψ, 4Ψ + 12Ψ/N, 2Ψ + 14Ψ/N, 16Ψ/N', () => {
    expect(at(0) * GB).toBeCloseTo(16 * psi, 0);
    expect(at(1) * GB).toBeCloseTo(4 * psi + (12 * psi) / N, 0);
    expect(at(2) * GB).toBeCloseTo(2 * psi + (14 * psi) / N, 0);
    expect(at(3) * GB).toBeCloseTo((16 * psi) / N, 0);
  });

  it('without data parallelism, ZeRO changes nothing', () => {
    const one = (zeroStage: ZeroStage) => model.modelStates({ parameters: psi, optimizer: 'adam', precision: 'mixed', dataParallel: 1, zeroStage }).total;
    expect(new Set([0, 1, 2, 3].map((s) => one(s as ZeroStage))).size).toBe(1);
  });
});

describe('bytes per parameter by optimizer and precision', () => {
  const per = (optimizer: 'sgd' | 'momentum' | 'adam', precision: 'fp32' | 'mixed') => model.modelStates({ parameters: 1, optimizer, precision }).total;
  it('fp32: 8, 12, 16; mixed (fp32 master copy): 8, 12, 16', () => {
    expect([per('sgd', 'fp32'), per('momentum', 'fp32'), per('adam', 'fp32')]).toEqual([8, 12, 16]);
    expect([per('sgd', 'mixed'), per('momentum', 'mixed'), per('adam', 'mixed')]).toEqual([8, 12, 16]);
    // the split differs: mixed keeps 2-byte weights and gradients
    expect(model.modelStates({ parameters: 1, optimizer: 'adam', precision: 'mixed' })).toMatchObject({ parameters: 2, gradients: 2, optimizerStates: 12 });
  });
});

describe('peak memory from buffer lifetimes', () => {
  it('sums the buffers alive at the same step', () => {
    const buffers: BufferLife[] = [
      { bytes: 10, firstUse: 0, lastUse: 2 },
      { bytes: 20, firstUse: 1, lastUse: 3 },
      { bytes: 5, firstUse: 3, lastUse: 4 },
    ];
    expect(model.peakMemory(buffers)).toEqual({ peakBytes: 30, step: 1 });
  });

  it('a buffer last used at step t overlaps one first used at t, not at t+1', () => {
    expect(model.peakMemory([{ bytes: 4, firstUse: 0, lastUse: 1 }, { bytes: 4, firstUse: 1, lastUse: 2 }]).peakBytes).toBe(8);
    expect(model.peakMemory([{ bytes: 4, firstUse: 0, lastUse: 1 }, { bytes: 4, firstUse: 2, lastUse: 3 }]).peakBytes).toBe(4);
  });

  it('agrees with counting step by step on random lifetimes', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 50; trial++) {
      const buffers: BufferLife[] = Array.from({ length: 1 + rand(20) }, () => {
        const a = rand(30);
        return { bytes: 1 + rand(1000), firstUse: a, lastUse: a + rand(10) };
      });
      let naive = 0;
      for (let t = 0; t < 45; t++) naive = Math.max(naive, buffers.filter((b) => b.firstUse <= t && t <= b.lastUse).reduce((s, b) => s + b.bytes, 0));
      expect(model.peakMemory(buffers).peakBytes).toBe(naive);
    }
  });

  it('no buffers: nothing', () => {
    expect(model.peakMemory([])).toEqual({ peakBytes: 0, step: undefined });
  });
});
