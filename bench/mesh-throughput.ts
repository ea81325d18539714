/**
 * Training throughput of gpt2_tiny's one-mesh plans (the emitted device programs) on
 * 1, 2 and 4 worker threads, side by side in one run on this machine: for each
 * strategy and worker count, the time of N extra steps (a run of 1 + N steps minus a
 * run of 1 step, so worker start-up and backend initialisation are left out).
 *   node dist/bench/mesh-throughput.js [--steps 3] [--strategies dp,megatron] [--workers 1,2,4] [--json]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCompiled } from '../src/planner/device-programs.js';
import { planModel } from '../src/planner/plan-model.js';
import { runMeshPlan } from '../src/runtime/spmd/run-mesh.js';
import { flags } from './flags.js';

const cli = flags();
const steps = Number(cli.value('--steps', '3'));
const strategies = cli.value('--strategies', 'dp,megatron').split(',');
const workers = cli.value('--workers', '1,2,4').split(',').map(Number);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const onnx = path.join(root, 'tests', 'fixtures', 'models', 'gpt2_tiny.onnx');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autopar-mesh-tp-'));
const clusterFile = (n: number): string => {
  const file = path.join(tmp, `1x${n}.yaml`);
  fs.writeFileSync(file, `hosts: 1\ndevicesPerHost: ${n}\ndevice: A100-80GB\nintraHost: {bandwidth: 300GB/s, latency: 5us}\n`);
  return file;
};
const batch = 8;
const rows: { strategy: string; workers: number; secondsPerStep: number; samplesPerSecond: number; speedup: number }[] = [];
for (const strategy of strategies) {
  let base = 0;
  for (const n of workers) {
    const dir = path.join(tmp, `${strategy}-${n}`);
    writeCompiled(dir, await planModel({ model: onnx, cluster: clusterFile(n), strategy: n === 1 ? 'auto' : strategy, loss: 'cross-entropy' }));
    const time = async (k: number): Promise<number> => {
      const t0 = performance.now();
      await runMeshPlan(dir, { steps: k });
      return (performance.now() - t0) / 1000;
    };
    const once = await time(1);
    const more = await time(1 + steps);
    const secondsPerStep = (more - once) / steps;
    if (n === workers[0]) base = batch / secondsPerStep;
    rows.push({ strategy, workers: n, secondsPerStep, samplesPerSecond: batch / secondsPerStep, speedup: batch / secondsPerStep / base });
    const r = rows[rows.length - 1];
    if (r && !cli.has('--json')) process.stdout.write(`${strategy.padEnd(9)} ${n} worker${n > 1 ? 's' : ' '}: ${(r.secondsPerStep * 1e3).toFixed(0)} ms/step, ${r.samplesPerSecond.toFixed(1)} samples/s, x${r.speedup.toFixed(2)} of ${workers[0]} worker (batch ${batch}, ${os.availableParallelism()} cores)\n`);
  }
}
fs.rmSync(tmp, { recursive: true, force: true });
if (cli.has('--json')) process.stdout.write(JSON.stringify({ model: 'gpt2_tiny', batch, steps, machine: `${os.availableParallelism()} cores`, rows }, null, 2) + '\n');
