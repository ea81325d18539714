/** `autopar eval`: run a model on one device with a reference folder's inputs and compare. */
import path from 'node:path';
import { AutoparError } from './errors.js';
import type { HostTensor } from './ir/host-tensor.js';
import type { Graph } from './ir/types.js';
import { importOnnx } from './onnx/import.js';
import { compareTensors, type TensorError } from './reference/compare.js';
import { readReference, writeReference } from './reference/folder.js';
import { execute } from './runtime/executor.js';

export interface EvalOptions {
  readonly reference: string;
  readonly dims?: Readonly<Record<string, number>>;
  readonly save?: string;
  readonly train?: boolean;
}

export interface EvalResult {
  readonly model: string;
  readonly backend: string;
  readonly outputs: Readonly<Record<string, TensorError>>;
  readonly seconds: number;
}

/** Binds symbolic input dims from the shapes of the values fed (explicit --dim wins). */
export function dimsFromFeeds(raw: Graph, feeds: ReadonlyMap<string, HostTensor>, given: Readonly<Record<string, number>>): Record<string, number> {
  const dims: Record<string, number> = { ...given };
  for (const inp of raw.inputs) {
    const f = feeds.get(inp.name);
    if (!f) continue;
    inp.type.shape.forEach((d, i) => {
      const v = f.shape[i];
      if (typeof d === 'string' && v !== undefined && dims[d] === undefined) dims[d] = v;
    });
  }
  return dims;
}

export async function evaluateModel(model: string, opts: EvalOptions): Promise<EvalResult> {
  if (opts.train) {
    throw new AutoparError('E_USAGE', '--train needs the training graph (autodiff), which this version does not build yet; run eval without --train for the forward pass');
  }
  const ref = readReference(opts.reference);
  const feeds = new Map<string, HostTensor>();
  for (const [name, e] of Object.entries(ref.manifest.inputs)) feeds.set(name, ref.read(e));
  const first = importOnnx(model, { dims: opts.dims ?? {} });
  const dims = dimsFromFeeds(first.raw, feeds, opts.dims ?? {});
  const { graph } = Object.keys(dims).length ? importOnnx(model, { dims }) : first;
  for (const name of feeds.keys()) {
    if (!graph.inputs.some((i) => i.name === name)) {
      throw new AutoparError('E_REFERENCE', `${opts.reference}: input '${name}' is not an input of ${path.basename(model)} (its inputs: ${graph.inputs.map((i) => i.name).join(', ')})`);
    }
  }
  const run = await execute(graph, feeds);
  const outputs: Record<string, TensorError> = {};
  const entries = Object.entries(ref.manifest.outputs);
  for (const [name, e] of entries) {
    // The manifest may name the model's only output generically ('output').
    const got = run.outputs.get(name) ?? (entries.length === 1 && run.outputs.size === 1 ? [...run.outputs.values()][0] : undefined);
    if (!got) throw new AutoparError('E_REFERENCE', `${opts.reference}: output '${name}' is not an output of the model (its outputs: ${graph.outputs.join(', ')})`);
    outputs[name] = compareTensors(got, ref.read(e));
  }
  if (opts.save) writeReference(opts.save, { model: path.basename(model), inputs: feeds, outputs: run.outputs });
  return { model: path.basename(model), backend: run.backend.name, outputs, seconds: run.seconds };
}
