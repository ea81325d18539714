/**
 * Device and link presets with their datasheet figures. Peak FLOP/s are dense (no
 * structured sparsity): `peakFlops[dtype]` is what a matmul in that dtype can reach, on
 * tensor cores where they exist (FP64 tensor cores on A100/H100); float32 is the plain
 * (CUDA-core) rate since TF32 is opt-in; `tf32` is listed separately.
 *
 * Matmul efficiencies: "Maximum Achievable Matmul FLOPS" (MAMF) measured with
 * mamf-finder.py, as tabled in S. Bekman, *Machine Learning Engineering*,
 * compute/accelerator (BF16 matmul, CUDA 12.1): A100 SXM 267.9 of 312 TFLOP/s (85.9%),
 * H100 SXM 792.1 of 989 (80.1%). V100 has no MAMF entry: 0.80 is assumed. Convolutions
 * reach less of the peak than large GEMMs: 0.70 is an assumption to be replaced by
 * `autopar profile` on real hardware. Memory efficiency 1.0: datasheet bandwidth.
 */
import type { DeviceType, Link } from './types.js';

const GiB = 2 ** 30;
const CONV_EFFICIENCY = 0.7;

export const DEVICE_PRESETS: Readonly<Record<string, DeviceType>> = {
  'V100-16GB': {
    name: 'V100-16GB',
    peakFlops: { float64: 7.8e12, float32: 15.7e12, float16: 125e12 },
    memoryBytes: 16 * GiB,
    memoryBandwidth: 900e9,
    efficiency: { matmul: 0.8, conv: CONV_EFFICIENCY, memory: 1 },
    source: 'NVIDIA Tesla V100 datasheet (SXM2): FP64 7.8, FP32 15.7, tensor FP16 125 TFLOP/s; 16 GB HBM2, 900 GB/s',
  },
  'V100-32GB': {
    name: 'V100-32GB',
    peakFlops: { float64: 7.8e12, float32: 15.7e12, float16: 125e12 },
    memoryBytes: 32 * GiB,
    memoryBandwidth: 900e9,
    efficiency: { matmul: 0.8, conv: CONV_EFFICIENCY, memory: 1 },
    source: 'NVIDIA Tesla V100 datasheet (SXM2): FP64 7.8, FP32 15.7, tensor FP16 125 TFLOP/s; 32 GB HBM2, 900 GB/s',
  },
  'A100-40GB': {
    name: 'A100-40GB',
    peakFlops: { float64: 19.5e12, float32: 19.5e12, tf32: 156e12, float16: 312e12, bfloat16: 312e12 },
    memoryBytes: 40 * GiB,
    memoryBandwidth: 1555e9,
    efficiency: { matmul: 0.859, conv: CONV_EFFICIENCY, memory: 1 },
    source: 'NVIDIA A100 datasheet (SXM4): FP64 tensor 19.5, FP32 19.5, TF32 156, FP16/BF16 312 TFLOP/s; 40 GB HBM2, 1555 GB/s',
  },
  'A100-80GB': {
    name: 'A100-80GB',
    peakFlops: { float64: 19.5e12, float32: 19.5e12, tf32: 156e12, float16: 312e12, bfloat16: 312e12 },
    memoryBytes: 80 * GiB,
    memoryBandwidth: 2039e9,
    efficiency: { matmul: 0.859, conv: CONV_EFFICIENCY, memory: 1 },
    source: 'NVIDIA A100 datasheet (SXM4): FP64 tensor 19.5, FP32 19.5, TF32 156, FP16/BF16 312 TFLOP/s; 80 GB HBM2e, 2039 GB/s',
  },
  'H100-80GB': {
    name: 'H100-80GB',
    peakFlops: { float64: 67e12, float32: 67e12, tf32: 494.7e12, float16: 989.4e12, bfloat16: 989.4e12 },
    memoryBytes: 80 * GiB,
    memoryBandwidth: 3.35e12,
    efficiency: { matmul: 0.801, conv: CONV_EFFICIENCY, memory: 1 },
    source:
      'NVIDIA H100 datasheet (SXM5), dense = half the sparse figures: FP64 tensor 67, FP32 67, TF32 494.7, FP16/BF16 989.4 TFLOP/s; 80 GB HBM3, 3.35 TB/s',
  },
};

export interface LinkPreset extends Link {
  readonly description: string;
}

/**
 * Links per direction. Bandwidths are the published per-direction figures; latencies
 * are rough per-message costs of a collective step (assumptions: give measured ones).
 */
export const INTRA_HOST_PRESETS: Readonly<Record<string, LinkPreset>> = {
  nvlink2: { bandwidth: 150e9, latency: 5e-6, description: 'V100 NVLink 2: 6 links x 25 GB/s per direction' },
  nvlink3: { bandwidth: 300e9, latency: 5e-6, description: 'A100 NVLink 3 + NVSwitch: 12 links x 25 GB/s per direction' },
  nvlink4: { bandwidth: 450e9, latency: 5e-6, description: 'H100 NVLink 4 + NVSwitch: 18 links x 25 GB/s per direction' },
  pcie3: { bandwidth: 15.75e9, latency: 10e-6, description: 'PCIe 3.0 x16 per direction' },
  pcie4: { bandwidth: 31.5e9, latency: 10e-6, description: 'PCIe 4.0 x16 per direction' },
  pcie5: { bandwidth: 63e9, latency: 10e-6, description: 'PCIe 5.0 x16 per direction' },
};

export const INTER_HOST_PRESETS: Readonly<Record<string, LinkPreset>> = {
  'ethernet-25g': { bandwidth: 25e9 / 8, latency: 25e-6, description: '25 Gb/s Ethernet (TCP)' },
  'ethernet-100g': { bandwidth: 100e9 / 8, latency: 25e-6, description: '100 Gb/s Ethernet (TCP)' },
  'ib-edr': { bandwidth: 100e9 / 8, latency: 5e-6, description: 'InfiniBand EDR, 100 Gb/s' },
  'ib-hdr': { bandwidth: 200e9 / 8, latency: 5e-6, description: 'InfiniBand HDR, 200 Gb/s' },
  'ib-ndr': { bandwidth: 400e9 / 8, latency: 5e-6, description: 'InfiniBand NDR, 400 Gb/s' },
};

/** Case-insensitive lookup, so `a100-80gb` works; undefined when unknown. */
export function findPreset<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  const exact = table[name];
  if (exact !== undefined) return exact;
  const key = Object.keys(table).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : table[key];
}
