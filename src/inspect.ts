/** What `autopar inspect` reports about a model (CLI.md fields). */
import path from 'node:path';
import { dtypeBytes, isFloat } from './ir/dtype.js';
import { numel } from './ir/host-tensor.js';
import { type Dim, type Graph, isExternal } from './ir/types.js';
import { graphFlops } from './ops/cost.js';
import { importOnnx, type ImportOptions, type ImportResult } from './onnx/import.js';
import { isConcrete } from './ops/util.js';

export interface ValueSummary {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly Dim[];
}

export interface InspectResult {
  readonly model: string;
  readonly opset: number;
  readonly nodes: number;
  readonly parameters: number;
  readonly parameterBytes: number;
  readonly forwardFlops: number;
  readonly ops: Readonly<Record<string, number>>;
  readonly inputs: readonly ValueSummary[];
  readonly outputs: readonly ValueSummary[];
  /** Symbolic dimensions of the model and the values they were bound to. */
  readonly dims: Readonly<Record<string, number>>;
  /** Symbolic dimensions no --dim bound: they took the default value shown in `dims`. */
  readonly defaultedDims: readonly string[];
  /** Initializers whose data lives in an external file (not read by inspect). */
  readonly externalWeights: readonly string[];
}

export function summarize(g: Graph, imp: Pick<ImportResult, 'raw' | 'symbolicDims' | 'defaultedDims'>, model: string): InspectResult {
  let parameters = 0;
  let parameterBytes = 0;
  const external = new Set<string>();
  for (const init of g.initializers.values()) {
    if (!isFloat(init.type.dtype) || !isConcrete(init.type.shape)) continue;
    const n = numel(init.type.shape);
    parameters += n;
    parameterBytes += n * dtypeBytes(init.type.dtype);
    if (isExternal(init.data)) external.add(init.data.location);
  }
  const ops: Record<string, number> = {};
  for (const n of g.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
  const dims: Record<string, number> = {};
  for (const d of imp.symbolicDims) {
    // Read the bound value back from the first input that used the symbol.
    for (const inp of imp.raw.inputs) {
      const k = inp.type.shape.indexOf(d);
      const bound = g.inputs.find((i) => i.name === inp.name)?.type.shape[k];
      if (k >= 0 && typeof bound === 'number') {
        dims[d] = bound;
        break;
      }
    }
  }
  const sortedOps = Object.fromEntries(Object.entries(ops).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    model,
    opset: g.opset,
    nodes: g.nodes.length,
    parameters,
    parameterBytes,
    forwardFlops: graphFlops(g),
    ops: sortedOps,
    inputs: g.inputs.map((i) => ({ name: i.name, dtype: i.type.dtype, shape: i.type.shape })),
    outputs: g.outputs.map((o) => ({ name: o, dtype: g.types.get(o)?.dtype ?? '?', shape: g.types.get(o)?.shape ?? [] })),
    dims,
    defaultedDims: Object.keys(imp.defaultedDims),
    externalWeights: [...external].sort(),
  };
}

export function inspectModel(file: string, opts: ImportOptions = {}): InspectResult {
  const imp = importOnnx(file, opts);
  return summarize(imp.graph, imp, path.basename(file));
}
