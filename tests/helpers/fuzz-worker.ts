/**
 * Worker thread of the import fuzz test (run from dist/, after tsc): imports corrupted
 * copies of one model and reports each outcome, so that the test's main thread can
 * time every case and stop a hang.
 */
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { AutoparError } from '../../src/errors.js';
import { summarize } from '../../src/inspect.js';
import { importBytes } from '../../src/onnx/import.js';
import { Corrupter, rawDataRanges } from './corrupt.js';
import { buildModel } from './onnx-builder.js';
import { randomOpModel } from './op-fuzz.js';

export interface FuzzJob {
  /** 'corrupt': corrupted copies of `file`; 'ops': random single-node models. */
  readonly kind: 'corrupt' | 'ops';
  readonly file?: string;
  /** Name the model is imported under; error messages must contain it. */
  readonly source: string;
  readonly seeds: readonly number[];
  readonly dims: Readonly<Record<string, number>>;
}

export type FuzzOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'autopar'; readonly code: string; readonly message: string }
  | { readonly kind: 'other'; readonly name: string; readonly message: string; readonly stack: string }
  /** Imported, but the result breaks an invariant (a negative size, non-finite FLOPs). */
  | { readonly kind: 'invalid'; readonly message: string };

export type FuzzMessage =
  | { readonly type: 'start'; readonly seed: number; readonly steps: readonly string[]; readonly size: number }
  | { readonly type: 'done'; readonly seed: number; readonly outcome: FuzzOutcome; readonly ms: number }
  | { readonly type: 'finished' };

function isJob(v: unknown): v is FuzzJob {
  return typeof v === 'object' && v !== null && 'kind' in v && 'seeds' in v;
}

/** Imports one case; a successful import must also be inspectable with sane sizes and FLOPs. */
function attempt(bytes: Uint8Array, job: FuzzJob): FuzzOutcome {
  try {
    const imp = importBytes(bytes, job.source, { dims: job.dims });
    for (const [name, t] of imp.graph.types) {
      if (t.shape.some((d) => typeof d === 'number' && !(Number.isSafeInteger(d) && d >= 0))) {
        return { kind: 'invalid', message: `value '${name}' has shape [${t.shape.join(',')}]` };
      }
    }
    const flops = summarize(imp.graph, imp, job.source).forwardFlops;
    if (!Number.isFinite(flops) || flops < 0) return { kind: 'invalid', message: `forwardFlops ${flops}` };
    return { kind: 'ok' };
  } catch (e) {
    if (e instanceof AutoparError) return { kind: 'autopar', code: e.code, message: e.message };
    if (e instanceof Error) return { kind: 'other', name: e.name, message: e.message, stack: e.stack ?? '' };
    return { kind: 'other', name: typeof e, message: String(e), stack: '' };
  }
}

function run(job: FuzzJob, post: (m: FuzzMessage) => void): void {
  let make: (seed: number) => { bytes: Uint8Array; steps: readonly string[] };
  if (job.kind === 'corrupt') {
    if (!job.file) throw new Error('corrupt job without a file');
    const original = new Uint8Array(fs.readFileSync(job.file));
    const corrupter = new Corrupter(original, rawDataRanges(original));
    make = (seed) => corrupter.corrupt(seed);
  } else {
    make = (seed) => {
      const c = randomOpModel(seed);
      return { bytes: buildModel(c.spec), steps: [`${c.op}: ${JSON.stringify(c.spec.nodes[0]?.attrs ?? {})}`] };
    };
  }
  for (const seed of job.seeds) {
    const c = make(seed);
    post({ type: 'start', seed, steps: c.steps, size: c.bytes.length });
    const t0 = performance.now();
    const outcome = attempt(c.bytes, job);
    post({ type: 'done', seed, outcome, ms: performance.now() - t0 });
  }
  post({ type: 'finished' });
}

if (parentPort && isJob(workerData)) {
  const port = parentPort;
  run(workerData, (m) => port.postMessage(m));
}
