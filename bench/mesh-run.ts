/**
 * The runtime's correctness matrix, measured: for mlp and gpt2_tiny, every built-in
 * strategy on 2, 4 and 8 local devices (worker threads), compiled and run for one step
 * from the reference folder's weights and inputs: loss and gradient errors against
 * PyTorch's reference (max|got-want|/max|want| per tensor, the worst), and whether the
 * collective calls and bytes the workers counted equal plan.json's, per kind.
 * With --steps N (> 1), N Adam steps are run and the largest relative difference of the
 * losses from the single-device trainer's (same weights, same batch) is reported too.
 *   node dist/bench/mesh-run.js [--models mlp,gpt2_tiny] [--devices 2,4,8]
 *     [--strategies dp,megatron,zero3,auto,pipeline] [--steps N] [--transport threads|mpi] [--json]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCompiled } from '../src/planner/device-programs.js';
import { planModel } from '../src/planner/plan-model.js';
import { readReference } from '../src/reference/folder.js';
import { unfuseProjections } from '../passes/unfuse-projections.js';
import { importOnnx } from '../src/onnx/import.js';
import { trainingGraphOf } from '../src/planner/pipeline-task.js';
import { batchFor, runPlan } from '../src/runtime/pipeline/run-plan.js';
import { createTrainer } from '../src/runtime/train.js';
import { flags } from './flags.js';

const cli = flags();
const list = (name: string, dflt: string): string[] => cli.value(name, dflt).split(',').filter((s) => s);
const models = list('--models', 'mlp,gpt2_tiny');
const devices = list('--devices', '2,4,8').map(Number);
const strategies = list('--strategies', 'dp,megatron,zero3,auto,pipeline');
const transport = cli.value('--transport', 'threads') === 'mpi' ? 'mpi' : 'threads';
const steps = Number(cli.value('--steps', '1'));
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = path.join(root, 'tests', 'fixtures', 'models');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autopar-mesh-run-'));

interface Row {
  readonly model: string;
  readonly devices: number;
  readonly strategy: string;
  readonly lossRelError: number;
  readonly gradMaxRelError: number;
  readonly worst: string;
  readonly bytesEqual: boolean;
  /** Largest relative loss difference from the single-device trainer over the steps (with --steps > 1). */
  readonly trainerLossRelError: number | undefined;
  readonly bytes: number;
  readonly seconds: number;
}
const rows: Row[] = [];
for (const model of models) {
  const ref = path.join(fixtures, `${model}.reference`);
  const refLoss = readReference(ref).manifest.loss;
  const loss = refLoss?.kind === 'cross_entropy' ? 'cross-entropy' : 'mse';
  let single: number[] | undefined;
  for (const n of devices) {
    for (const strategy of strategies) {
      const dir = path.join(tmp, `${model}-${strategy}-${n}`);
      const t0 = performance.now();
      const planned = await planModel({ model: path.join(fixtures, `${model}.onnx`), cluster: path.join(root, 'examples', 'clusters', `1x${n}-a100.yaml`), strategy: strategy === 'pipeline' ? `dp=1,tp=1,pp=${n}` : strategy, loss });
      writeCompiled(dir, planned);
      const r = await runPlan(dir, { reference: ref, transport, steps });
      if (steps > 1 && !single) {
        const { graph } = unfuseProjections(importOnnx(path.join(fixtures, `${model}.onnx`), {}).graph);
        const tg = trainingGraphOf({ graph, loss, optimizer: 'adam' });
        const trainer = createTrainer(tg);
        const { full } = batchFor(tg, loss, dir, ref, 17);
        single = [];
        for (let k = 0; k < steps; k++) single.push((await trainer.step([full])).loss);
      }
      const trainerLossRelError = single ? Math.max(...r.loss.map((l, k) => Math.abs(l - (single?.[k] ?? NaN)) / Math.abs(single?.[k] ?? NaN))) : undefined;
      const kinds = new Set([...Object.keys(r.collectives), ...Object.keys(r.plannedCollectives)]);
      const bytesEqual = [...kinds].every((k) => {
        const got = r.collectives[k as keyof typeof r.collectives];
        const want = r.plannedCollectives[k];
        return got?.count === want?.count && got?.bytes === want?.bytes;
      });
      rows.push({
        model,
        devices: n,
        strategy,
        lossRelError: Math.abs((r.loss[0] ?? NaN) - (refLoss?.value ?? NaN)) / Math.abs(refLoss?.value ?? NaN),
        gradMaxRelError: r.gradients?.maxRelError ?? NaN,
        worst: r.gradients?.worst ?? '',
        bytesEqual,
        trainerLossRelError,
        bytes: Object.values(r.collectives).reduce((s, k) => s + (k?.bytes ?? 0), 0),
        seconds: (performance.now() - t0) / 1000,
      });
      const x = rows[rows.length - 1];
      if (x && !cli.has('--json')) process.stdout.write(`${model.padEnd(10)} ${String(n).padStart(2)} devices  ${strategy.padEnd(9)} loss err ${x.lossRelError.toExponential(2)}  grads err ${x.gradMaxRelError.toExponential(2)} (${x.worst})  ${x.trainerLossRelError === undefined ? '' : `${steps} steps vs one device ${x.trainerLossRelError.toExponential(2)}  `}measured=planned bytes ${x.bytesEqual ? 'yes' : 'NO'} (${(x.bytes / 2 ** 20).toFixed(2)} MiB)  ${x.seconds.toFixed(1)} s\n`);
    }
  }
}
fs.rmSync(tmp, { recursive: true, force: true });
const ok = rows.every((r) => r.lossRelError <= 1e-4 && r.gradMaxRelError <= 1e-3 && r.bytesEqual);
if (cli.has('--json')) process.stdout.write(JSON.stringify({ transport, machine: `${os.availableParallelism()} cores`, ok, rows }, null, 2) + '\n');
else process.stdout.write(`${rows.length} runs (${transport}): ${ok ? 'all within tolerance (loss 1e-4, gradients 1e-3) with measured = planned bytes' : 'SOME OUTSIDE TOLERANCE'}\n`);
if (!ok) process.exitCode = 1;
