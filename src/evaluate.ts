/** `autopar eval`: run a model on one device with a reference folder's inputs and compare. */
import path from 'node:path';
import { AutoparError } from './errors.js';
import type { HostTensor } from './ir/host-tensor.js';
import type { Graph } from './ir/types.js';
import { importOnnx } from './onnx/import.js';
import { fmtShape } from './ops/util.js';
import { compareTensors, type TensorError } from './reference/compare.js';
import { readReference, writeReference } from './reference/folder.js';
import { initBackend } from './runtime/backend.js';
import { execute } from './runtime/executor.js';
import { createTrainer } from './runtime/train.js';
import { buildTrainingGraph } from './training/build.js';

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
  readonly loss?: { readonly value: number; readonly reference: number; readonly relError: number };
  readonly gradients?: { readonly count: number; readonly maxRelError: number; readonly worst: string; readonly perTensor: Readonly<Record<string, TensorError>> };
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
  for (const inp of graph.inputs) {
    if (!feeds.has(inp.name)) {
      throw new AutoparError(
        'E_REFERENCE',
        `${opts.reference}: manifest.json gives no value for input '${inp.name}' (${inp.type.dtype}${fmtShape(inp.type.shape)}) of ${path.basename(model)}`,
      );
    }
  }
  const backend = await initBackend();
  const t0 = performance.now();
  let computed: ReadonlyMap<string, HostTensor>;
  let train: { loss: number; grads: ReadonlyMap<string, HostTensor>; kind: 'mse' | 'cross_entropy'; target: HostTensor } | undefined;
  if (opts.train) {
    const lossRef = ref.manifest.loss;
    if (!lossRef) throw new AutoparError('E_REFERENCE', `${opts.reference}: manifest.json has no 'loss' entry, which --train needs`);
    const tg = buildTrainingGraph(graph, { loss: lossRef.kind });
    const target = ref.read(lossRef.target);
    const trainer = createTrainer(tg);
    const step = await trainer.step([new Map([...feeds, [tg.target, target]])]);
    computed = step.outputs;
    train = { loss: step.loss, grads: step.grads, kind: lossRef.kind, target };
  } else {
    computed = (await execute(graph, feeds)).outputs;
  }
  const seconds = (performance.now() - t0) / 1000;

  const outputs: Record<string, TensorError> = {};
  const entries = Object.entries(ref.manifest.outputs);
  for (const [name, e] of entries) {
    // The manifest may name the model's only output generically ('output').
    const got = computed.get(name) ?? (entries.length === 1 && computed.size === 1 ? [...computed.values()][0] : undefined);
    if (!got) throw new AutoparError('E_REFERENCE', `${opts.reference}: output '${name}' is not an output of the model (its outputs: ${graph.outputs.join(', ')})`);
    outputs[name] = compareTensors(got, ref.read(e));
  }
  const result: EvalResult = { model: path.basename(model), backend: backend.name, outputs, seconds };
  if (train) {
    const want = ref.manifest.loss?.value ?? NaN;
    const perTensor: Record<string, TensorError> = {};
    let worst = '';
    let maxRel = 0;
    for (const [name, e] of Object.entries(ref.manifest.gradients ?? {})) {
      const got = train.grads.get(name);
      if (!got) throw new AutoparError('E_REFERENCE', `${opts.reference}: gradient of '${name}', which is not a trainable initializer of the model`);
      const err = compareTensors(got, ref.read(e));
      perTensor[name] = err;
      if (!(err.maxRelError <= maxRel)) {
        maxRel = err.maxRelError;
        worst = name;
      }
    }
    Object.assign(result, {
      loss: { value: train.loss, reference: want, relError: Math.abs(train.loss - want) / Math.abs(want) },
      gradients: { count: Object.keys(perTensor).length, maxRelError: maxRel, worst, perTensor },
    });
  }
  if (opts.save) {
    writeReference(opts.save, {
      model: path.basename(model),
      inputs: feeds,
      outputs: computed,
      ...(train ? { loss: { kind: train.kind, value: train.loss, target: train.target }, gradients: train.grads } : {}),
    });
  }
  return result;
}
