/**
 * Figures of the cost model: predicted GEMM throughput of the presets, and how well a
 * profile of this machine predicts fresh measurements at sizes it did not measure.
 * Run: `npx tsc -p tsconfig.json && node dist/bench/cost-model.js [--full]`.
 */
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { calibratedCostModel, deviceTypeFromProfile } from '../cost-models/calibrated.js';
import { measureConv, measureElementwise, measureMatmul, measureProfile } from '../cost-models/profiler.js';
import type { ProfileSample } from '../cost-models/profile.js';
import type { OpKind } from '../cost-models/types.js';
import { DEVICE_PRESETS } from '../src/cluster/presets.js';

const analytical = analyticalCostModel();
console.log('predicted 8192^3 GEMM, effective TFLOP/s (analytical model):');
for (const [name, device] of Object.entries(DEVICE_PRESETS)) {
  const row = (['float32', 'tf32', 'float16', 'bfloat16'] as const).map((dtype) => {
    const bytesPer = dtype === 'float32' || dtype === 'tf32' ? 4 : 2;
    const op = { flops: 2 * 8192 ** 3, bytes: 3 * 8192 ** 2 * bytesPer, dtype, kind: 'matmul' } as const;
    return `${dtype} ${(op.flops / analytical.compute(op, device).seconds / 1e12).toFixed(1)}`;
  });
  console.log(`  ${name.padEnd(10)} ${row.join('  ')}`);
}

const full = process.argv.includes('--full');
const t0 = performance.now();
const profile = await measureProfile({ quick: !full });
console.log(`\nprofile (${full ? 'full' : 'quick'}, ${((performance.now() - t0) / 1e3).toFixed(1)} s): ${profile.backend} on ${profile.machine.cpuModel}`);
console.log(`  matmul ${(profile.summary.matmulFlops / 1e9).toFixed(1)} GFLOP/s, conv ${(profile.summary.convFlops / 1e9).toFixed(1)} GFLOP/s, add ${(profile.summary.memoryBandwidth / 1e9).toFixed(2)} GB/s`);

const model = calibratedCostModel(profile);
const device = deviceTypeFromProfile(profile);
const fresh: [OpKind, ProfileSample][] = [
  ...[96, 192, 384, 640, 896].map((n): [OpKind, ProfileSample] => ['matmul', measureMatmul(n, n, n)]),
  ['matmul', measureMatmul(256, 1024, 128)],
  ['conv', measureConv(24, 48)],
  ['conv', measureConv(48, 64)],
  ['elementwise', measureElementwise(100_000)],
  ['elementwise', measureElementwise(500_000)],
];
console.log('\ncalibrated prediction vs fresh measurement (sizes not in the profile):');
for (const [kind, s] of fresh) {
  const predicted = model.compute({ flops: s.flops, bytes: s.bytes, dtype: 'float32', kind }, device).seconds;
  const err = (predicted - s.seconds) / s.seconds;
  console.log(`  ${kind.padEnd(11)} ${s.label.padEnd(22)} measured ${(s.seconds * 1e3).toFixed(3)} ms  predicted ${(predicted * 1e3).toFixed(3)} ms  error ${(err * 100).toFixed(1)}%`);
}
