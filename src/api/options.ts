/**
 * What `compile`, `compare` and `sweep` of the programmatic API share: the model (a path
 * or ONNX bytes), the cluster (a path, YAML text or a Cluster object) and the planning
 * options of `autopar compile`, checked at run time too since callers may be plain JS.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCluster, parseCluster } from '../cluster/load.js';
import type { Cluster } from '../cluster/types.js';
import { AutoparError } from '../errors.js';
import { type CompileOptions, PRINT_IR_PASSES, type PrintIrPass, type ProgressEvent } from '../planner/compile.js';

/** ONNX model: a file path, or the bytes of one (`fs.readFileSync`, a download, an export in memory). */
export type ModelInput = string | Uint8Array;

/**
 * Cluster: a cluster.yaml path, its text as `{ yaml, name? }` (name appears in messages,
 * default 'cluster.yaml'), or a Cluster from loadCluster/parseCluster.
 */
export type ClusterInput = string | { readonly yaml: string; readonly name?: string } | Cluster;

/** The planning options of `autopar compile` (docs/cli.md), by the same names in camelCase. */
export interface PlanningOptions {
  readonly model: ModelInput;
  /** File name of a model given as bytes, for reports and the saved copy (default 'model.onnx'). */
  readonly modelName?: string;
  readonly cluster: ClusterInput;
  /** Global batch of one step; binds the leading symbolic input dimension (or `batchDim`). */
  readonly batch?: number;
  readonly batchDim?: string;
  readonly dims?: Readonly<Record<string, number>>;
  readonly mode?: 'train' | 'infer';
  readonly optimizer?: 'sgd' | 'adam';
  readonly loss?: 'mse' | 'cross-entropy';
  readonly solver?: 'highs' | 'glpk' | 'auto';
  /** ILP time limit per mesh in seconds; the best plan found is kept. */
  readonly timeLimitSeconds?: number;
  readonly microbatches?: number;
  readonly precision?: 'model' | 'mixed';
  /** Plan even when it does not fit in device memory. */
  readonly allowOom?: boolean;
  /** A calibrated cost model written by `autopar profile`. */
  readonly profile?: string;
  /** Only this logical mesh, e.g. [2, 4]. */
  readonly mesh?: readonly number[];
  /** Layouts fixed by hand: value name -> sharding such as "[x, -]". */
  readonly pin?: Readonly<Record<string, string>>;
  /** Called as planning proceeds: each phase with its seconds, each mesh as it is solved. */
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Print the IR after this pass to `onIr` (default: stderr); one-mesh plans (see CompileOptions.printIrAfter). */
  readonly printIrAfter?: PrintIrPass;
  readonly onIr?: (text: string) => void;
}

export function resolveCluster(c: ClusterInput): Cluster {
  if (typeof c === 'string') return loadCluster(c);
  // Plain JS callers can pass anything: say what is expected rather than fail inside.
  if (typeof c !== 'object' || c === null) throw new AutoparError('E_USAGE', `cluster: expected a cluster.yaml path, { yaml } or a Cluster from loadCluster/parseCluster, got ${c === undefined ? 'none' : c === null ? 'null' : typeof c}`);
  if ('yaml' in c) {
    if (typeof c.yaml !== 'string') throw new AutoparError('E_USAGE', `cluster.yaml must be the text of a cluster description, got ${typeof c.yaml}`);
    return parseCluster(c.yaml, c.name ?? 'cluster.yaml');
  }
  if (!Array.isArray(c.devices) || !Array.isArray(c.groups)) throw new AutoparError('E_USAGE', 'cluster: expected a path, { yaml } or a Cluster from loadCluster/parseCluster');
  return c;
}

function positiveInt(key: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new AutoparError('E_USAGE', `${key} must be a positive integer, got ${String(v)}`);
}

function oneOf(key: string, v: string | undefined, allowed: readonly string[]): void {
  if (v !== undefined && !allowed.includes(v)) throw new AutoparError('E_USAGE', `${key} must be one of ${allowed.join(', ')}, got '${String(v)}'`);
}

/** A model given as bytes is written to `file` (temporary name, then renamed). */
export function saveModel(bytes: Uint8Array, file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
  return file;
}

/** The file name a model given as bytes is saved under. */
export function modelFileName(o: PlanningOptions): string {
  const name = o.modelName ?? 'model.onnx';
  if (name !== path.basename(name) || name === '' || name === '.' || name === '..') throw new AutoparError('E_USAGE', `modelName '${name}' must be a plain file name such as gpt2.onnx`);
  return name;
}

/**
 * The CompileOptions of `o` with the model as a path: a path as given, bytes saved into
 * `dir` (the output folder, so plan.json's source stays readable) or, without one, a
 * temporary folder that `cleanup` removes.
 */
export function toCompileOptions(o: PlanningOptions, dir: string | undefined): { readonly options: Omit<CompileOptions, 'strategy' | 'cluster'> & { readonly cluster: Cluster }; readonly cleanup: () => void; readonly temporary: boolean } {
  if (typeof o !== 'object' || o === null) throw new AutoparError('E_USAGE', 'expected an options object such as { model, cluster }');
  positiveInt('batch', o.batch);
  positiveInt('microbatches', o.microbatches);
  oneOf('mode', o.mode, ['train', 'infer']);
  oneOf('optimizer', o.optimizer, ['sgd', 'adam']);
  oneOf('loss', o.loss, ['mse', 'cross-entropy']);
  oneOf('solver', o.solver, ['highs', 'glpk', 'auto']);
  oneOf('precision', o.precision, ['model', 'mixed']);
  oneOf('printIrAfter', o.printIrAfter, PRINT_IR_PASSES);
  if (o.timeLimitSeconds !== undefined && !(o.timeLimitSeconds > 0)) throw new AutoparError('E_USAGE', `timeLimitSeconds must be > 0, got ${String(o.timeLimitSeconds)}`);
  const cluster = resolveCluster(o.cluster);
  let model: string;
  let cleanup = (): void => {};
  let temporary = false;
  if (typeof o.model === 'string') model = o.model;
  else if (o.model instanceof Uint8Array) {
    const name = modelFileName(o);
    if (dir !== undefined) model = saveModel(o.model, path.join(dir, name));
    else {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autopar-model-'));
      model = saveModel(o.model, path.join(tmp, name));
      cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
      temporary = true;
    }
  } else throw new AutoparError('E_USAGE', `model must be an ONNX file path or its bytes (Uint8Array), got ${o.model === undefined ? 'none' : typeof o.model}`);
  return {
    options: {
      model,
      cluster,
      batch: o.batch,
      batchDim: o.batchDim,
      dims: o.dims,
      mode: o.mode,
      optimizer: o.optimizer,
      loss: o.loss,
      solver: o.solver,
      timeLimitSeconds: o.timeLimitSeconds,
      microbatches: o.microbatches,
      precision: o.precision,
      allowOom: o.allowOom,
      profile: o.profile,
      mesh: o.mesh,
      pin: o.pin,
      progress: o.onProgress,
      printIrAfter: o.printIrAfter,
      printIr: o.onIr,
    },
    cleanup,
    temporary,
  };
}
