/** Roofline compute time per op and dtype, with the efficiencies documented in presets.ts. */
import { describe, expect, it } from 'vitest';
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { DEVICE_PRESETS } from '../src/cluster/presets.js';
import type { DeviceType } from '../src/cluster/types.js';

const model = analyticalCostModel();
function preset(name: string): DeviceType {
  const d = DEVICE_PRESETS[name];
  if (!d) throw new Error(`no preset ${name}`);
  return d;
}

function gemm(n: number, bytesPerElement: number) {
  return { flops: 2 * n ** 3, bytes: 3 * n * n * bytesPerElement };
}

describe('large GEMMs', () => {
  it.each(['A100-40GB', 'A100-80GB'])('8192^3 float16 on %s runs at 250-300 TFLOP/s effective', (name) => {
    const op = { ...gemm(8192, 2), dtype: 'float16', kind: 'matmul' } as const;
    const est = model.compute(op, preset(name));
    const effective = op.flops / est.seconds;
    expect(est.bound).toBe('compute');
    expect(effective).toBeGreaterThanOrEqual(250e12);
    expect(effective).toBeLessThanOrEqual(300e12);
  });

  it('bfloat16 on H100 reaches the measured MAMF (~792 TFLOP/s), not the datasheet 989', () => {
    const op = { ...gemm(8192, 2), dtype: 'bfloat16', kind: 'matmul' } as const;
    const effective = op.flops / model.compute(op, preset('H100-80GB')).seconds;
    expect(effective).toBeGreaterThan(750e12);
    expect(effective).toBeLessThan(850e12);
  });

  it('dtype picks the peak: float32 < tf32 < float16 on A100', () => {
    const a100 = preset('A100-80GB');
    const t = (dtype: 'float32' | 'tf32' | 'float16') => model.compute({ ...gemm(4096, 4), dtype, kind: 'matmul' }, a100).computeSeconds;
    expect(t('float32') / t('tf32')).toBeCloseTo(156 / 19.5, 6);
    expect(t('tf32') / t('float16')).toBeCloseTo(2, 6);
  });

  it('a dtype the device lacks (bfloat16 on V100) falls back to the float32 rate', () => {
    const v100 = preset('V100-16GB');
    const op = { ...gemm(4096, 2), kind: 'matmul' } as const;
    const bf16 = model.compute({ ...op, dtype: 'bfloat16' }, v100).seconds;
    const fp32 = model.compute({ ...op, dtype: 'float32' }, v100).seconds;
    const fp16 = model.compute({ ...op, dtype: 'float16' }, v100).seconds;
    expect(bf16).toBeCloseTo(fp32, 12);
    expect(bf16).toBeGreaterThan(5 * fp16);
  });
});

describe('memory-bound ops', () => {
  it('an elementwise add of 1e8 float16 values takes bytes / HBM bandwidth', () => {
    const a100 = preset('A100-80GB');
    const n = 1e8;
    const est = model.compute({ flops: n, bytes: 3 * 2 * n, dtype: 'float16', kind: 'elementwise' }, a100);
    expect(est.bound).toBe('memory');
    expect(est.seconds).toBeCloseTo((6 * n) / a100.memoryBandwidth, 12);
  });

  it('a skinny GEMM (matrix-vector) is memory-bound', () => {
    const n = 8192;
    const est = model.compute({ flops: 2 * n * n, bytes: 2 * (n * n + 2 * n), dtype: 'float16', kind: 'matmul' }, preset('A100-80GB'));
    expect(est.bound).toBe('memory');
  });

  it('convolutions use the conv efficiency', () => {
    const a100 = preset('A100-80GB');
    const op = { flops: 1e12, bytes: 1e6, dtype: 'float16' } as const;
    const conv = model.compute({ ...op, kind: 'conv' }, a100).seconds;
    const mm = model.compute({ ...op, kind: 'matmul' }, a100).seconds;
    expect(conv / mm).toBeCloseTo(a100.efficiency.matmul / a100.efficiency.conv, 9);
  });
});
