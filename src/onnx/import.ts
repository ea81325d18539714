/** Import an ONNX model: read, decode, bind dims, infer shapes, fold, remove dead code, verify. */
import fs from 'node:fs';
import { AutoparError } from '../errors.js';
import type { Graph } from '../ir/types.js';
import { bindAndInfer, symbolicDims } from '../../passes/infer-shapes.js';
import { removeDeadCode } from '../../passes/dce.js';
import { runPasses, type PassTiming } from '../../passes/manager.js';
import { decodeGraph, parseModelBytes } from './decode.js';

/** The passes of import, in order: what `inspect --print-ir PASS` can name (or 'all'). */
export const IMPORT_PASSES = ['infer-shapes', 'dce'] as const;

export interface ImportOptions {
  readonly dims?: Readonly<Record<string, number>>;
  /** Value for symbolic dims left unbound (reported in `defaultedDims`); default 1. */
  readonly defaultDim?: number;
  readonly printIrAfter?: string;
  readonly print?: (text: string) => void;
}

export interface ImportResult {
  readonly graph: Graph;
  /** The graph as decoded, symbolic dimensions still symbolic. */
  readonly raw: Graph;
  readonly symbolicDims: readonly string[];
  readonly defaultedDims: Readonly<Record<string, number>>;
  readonly timings: readonly PassTiming[];
}

function readModelFile(file: string): Uint8Array {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected an .onnx file' : (e as Error).message;
    throw new AutoparError('E_FILE', `${file}: cannot read model: ${why}`);
  }
}

export function importBytes(bytes: Uint8Array, source: string, opts: ImportOptions = {}): ImportResult {
  const t0 = performance.now();
  let raw: Graph;
  try {
    raw = decodeGraph(parseModelBytes(bytes, source), source);
  } catch (e) {
    throw wrap(e, source, 'decode');
  }
  const decodeTime = (performance.now() - t0) / 1000;
  const r = importDecoded(raw, source, opts);
  return { ...r, timings: [{ pass: 'decode', seconds: decodeTime }, ...r.timings] };
}

/**
 * importBytes after decoding: a decoded model (`ImportResult.raw`, never changed by the
 * passes) bound to other dimensions without reading and decoding it again, as the
 * pipeline search binds one model to each micro-batch size.
 */
export function importDecoded(raw: Graph, source: string, opts: ImportOptions = {}): ImportResult {
  const defaultDim = opts.defaultDim ?? 1;
  let defaulted: readonly string[] = [];
  try {
    const { graph, timings } = runPasses(
      raw,
      [
        {
          name: 'infer-shapes',
          run: (g) => {
            const r = bindAndInfer(g, { dims: opts.dims ?? {}, defaultDim });
            defaulted = r.defaulted;
            return r.graph;
          },
        },
        { name: 'dce', run: removeDeadCode },
      ],
      { printAfter: opts.printIrAfter, print: opts.print },
    );
    return {
      graph,
      raw,
      symbolicDims: symbolicDims(raw),
      defaultedDims: Object.fromEntries(defaulted.map((d) => [d, defaultDim])),
      timings,
    };
  } catch (e) {
    throw wrap(e, source, 'passes');
  }
}

/** Anything unexpected while reading a model is still an error about that model, and names it. */
/**
 * Errors about a model name the model. Unexpected exceptions while decoding mean the
 * bytes are not what they claim (E_PARSE); later, in shape inference and folding, they
 * are autopar's bugs and say so (E_INTERNAL) instead of blaming the file.
 */
function wrap(e: unknown, source: string, phase: 'decode' | 'passes'): Error {
  if (e instanceof AutoparError) return e.message.startsWith(`${source}: `) ? e : new AutoparError(e.code, `${source}: ${e.message}`);
  const why = e instanceof Error ? e.message : String(e);
  if (phase === 'passes') return new AutoparError('E_INTERNAL', `${source}: internal error while inferring shapes (${why}); please report it with the model`);
  return new AutoparError('E_PARSE', `${source}: the model could not be read (${why})`);
}

export function importOnnx(file: string, opts: ImportOptions = {}): ImportResult {
  return importBytes(readModelFile(file), file, opts);
}
