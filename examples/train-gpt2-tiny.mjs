// Plan GPT-2 tiny for training on one host of 2 A100s with Megatron tensor parallelism,
// then train it for a few steps on this machine (one worker thread per planned device)
// and print the losses. Everything goes through the programmatic API:
//
//   npm run build && node examples/train-gpt2-tiny.mjs [OUT_DIR] [STEPS]
//
// Inside this repository 'autopar' resolves to the package itself (its exports map);
// in a project that installed autopar it is the installed package.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, run } from 'autopar';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'autopar-train-'));
const steps = Number(process.argv[3] ?? 5);

// The model as bytes (it could come from a download or an exporter): compile saves a copy
// into `out`, so the plan can be run from that folder later.
const model = fs.readFileSync(path.join(here, 'models', 'gpt2_tiny.onnx'));

const compiled = await compile({
  model,
  modelName: 'gpt2_tiny.onnx',
  cluster: path.join(here, 'clusters', '1x2-a100.yaml'),
  strategy: 'megatron',
  loss: 'cross-entropy',
  optimizer: 'adam',
  out,
  onProgress: (e) => {
    if (e.kind === 'phase') process.stderr.write(`  ${e.phase} ${e.seconds.toFixed(2)} s\n`);
  },
});
console.log(`planned ${compiled.model}: ${compiled.strategy} on ${compiled.devices} devices, ` + `predicted step ${(compiled.stepTimeSeconds * 1e3).toFixed(3)} ms, plan ${compiled.plan}`);

// The training loop: `run` trains the compiled programs for `steps` steps (Adam on a
// fixed seeded batch) and returns each step's loss and the collectives it counted.
const result = await run(out, { steps });
result.loss.forEach((loss, i) => console.log(`step ${i + 1}  loss ${loss.toFixed(6)}`));
console.log(JSON.stringify({ losses: result.loss, collectives: result.collectives, plannedCollectives: result.plannedCollectives }));
