/**
 * ModelProto bytes to a raw IR graph: inputs, initializers and constants typed, nodes
 * in topological order, node outputs not yet typed (shape inference does that once
 * the symbolic dimensions are bound).
 */
import path from 'node:path';
import { AutoparError } from '../errors.js';
import { dtypeFromOnnx } from '../ir/dtype.js';
import type { HostTensor } from '../ir/host-tensor.js';
import { hostTensor } from '../ir/host-tensor.js';
import { type AttrValue, type Dim, type Graph, type GraphInput, type Initializer, type Node, type TensorType, isExternal } from '../ir/types.js';
import { MAX_OPSET, MIN_OPSET, opFor } from '../ops/registry.js';
import { type IAttributeProto, type IValueInfoProto, type ModelProto, onnx, toNum } from './proto.js';
import { decodeTensor } from './tensor.js';

const utf8 = new TextDecoder();

/** What a file that is not an ONNX model looks like, from its first bytes (for the error message). */
export function sniffNonOnnx(bytes: Uint8Array): string | undefined {
  const starts = (...sig: number[]): boolean => sig.every((b, i) => bytes[i] === b);
  if (bytes.length === 0) return 'the file is empty';
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'it looks like a PNG image';
  if (starts(0xff, 0xd8, 0xff)) return 'it looks like a JPEG image';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'it looks like a zip archive (a PyTorch checkpoint? export it with torch.onnx.export)';
  if (starts(0x80) && (bytes[1] ?? 0) >= 2 && (bytes[1] ?? 0) <= 5) return 'it looks like a Python pickle (a PyTorch checkpoint? export it with torch.onnx.export)';
  if (starts(0x89, 0x48, 0x44, 0x46)) return 'it looks like an HDF5 file (a Keras model?)';
  const head = bytes.subarray(0, 512);
  // Text: no control characters but whitespace (bytes of UTF-8 sequences allowed).
  if (head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b !== 127))) return 'it looks like a text file';
  return undefined;
}

export function parseModelBytes(bytes: Uint8Array, source: string): ModelProto {
  const notOnnx = (): AutoparError | undefined => {
    const looksLike = sniffNonOnnx(bytes);
    return looksLike ? new AutoparError('E_PARSE', `${source}: not an ONNX model: ${looksLike}; expected a file written by torch.onnx.export or onnx.save`) : undefined;
  };
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw notOnnx() ?? new AutoparError('E_PARSE', `${source}: not a valid ONNX model (protobuf decoding failed: ${why}); is the file truncated?`);
  }
  if (!model.graph || (model.graph.node ?? []).length === 0 && (model.graph.output ?? []).length === 0) {
    throw notOnnx() ?? new AutoparError('E_PARSE', `${source}: not an ONNX model (no graph found); expected a file written by torch.onnx.export or onnx.save`);
  }
  return model;
}

function defaultOpset(model: ModelProto, source: string): number {
  const imports = model.opsetImport ?? [];
  const entry = imports.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!entry) throw new AutoparError('E_PARSE', `${source}: the model imports no version of the default ONNX domain`);
  const v = toNum(entry.version);
  if (v < MIN_OPSET || v > MAX_OPSET) {
    throw new AutoparError(
      'E_PARSE',
      `${source}: opset ${v} is not supported (supported: ${MIN_OPSET} to ${MAX_OPSET}); re-export with torch.onnx.export(..., opset_version=17) or convert with onnx.version_converter`,
    );
  }
  return v;
}

function valueType(vi: IValueInfoProto, where: string): TensorType {
  const tt = vi.type?.tensorType;
  if (!tt) {
    const t = vi.type;
    const kind = t?.sequenceType ? 'a sequence' : t?.mapType ? 'a map' : t?.optionalType ? 'an optional' : t?.sparseTensorType ? 'a sparse tensor' : 'untyped';
    throw new AutoparError('E_UNSUPPORTED_OP', `${where}: value '${vi.name ?? ''}' is ${kind}, not a tensor; only dense tensors are supported`);
  }
  const dtype = dtypeFromOnnx(tt.elemType ?? 0);
  if (!dtype) throw new AutoparError('E_PARSE', `${where}: value '${vi.name ?? ''}' has unknown element type ${tt.elemType ?? 0}`);
  const dims = tt.shape?.dim ?? [];
  const shape: Dim[] = dims.map((d, i) => {
    if (d.dimParam) return d.dimParam;
    if (d.dimValue !== null && d.dimValue !== undefined) {
      const v = toNum(d.dimValue);
      if (!Number.isSafeInteger(v) || v < 0) throw new AutoparError('E_PARSE', `${where}: value '${vi.name ?? ''}' has invalid dimension ${v}`);
      return v;
    }
    // An unnamed unknown dimension: give it a name the user can bind.
    return `${vi.name ?? 'value'}_dim${i}`;
  });
  return { dtype, shape };
}

function attrValue(a: IAttributeProto, where: string, modelDir: string): AttrValue {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.FLOAT:
      return { kind: 'float', value: a.f ?? 0 };
    case T.INT:
      return { kind: 'int', value: toNum(a.i) };
    case T.STRING:
      return { kind: 'string', value: utf8.decode(a.s ?? new Uint8Array()) };
    case T.FLOATS:
      return { kind: 'floats', value: [...(a.floats ?? [])] };
    case T.INTS:
      return { kind: 'ints', value: (a.ints ?? []).map(toNum) };
    case T.STRINGS:
      return { kind: 'strings', value: (a.strings ?? []).map((s) => utf8.decode(s)) };
    case T.TENSOR: {
      const t = decodeTensor(a.t ?? {}, where, modelDir);
      if (isExternal(t.data)) throw new AutoparError('E_PARSE', `${where}: attribute tensor with external data is not supported`);
      return { kind: 'tensor', value: t.data };
    }
    case T.GRAPH:
      return { kind: 'graph', value: a.g?.name ?? '' };
    default:
      throw new AutoparError('E_UNSUPPORTED_OP', `${where}: attribute '${a.name ?? ''}' has unsupported type ${String(a.type)}`);
  }
}

/** The value a Constant node produces (any of its value_* attributes). */
function constantValue(node: Node): HostTensor {
  const only = [...node.attrs.values()][0];
  if (node.attrs.size !== 1 || !only) throw new AutoparError('E_GRAPH', `node '${node.name}' (Constant) must have exactly one value attribute`);
  switch (only.kind) {
    case 'tensor':
      return only.value;
    case 'float':
      return hostTensor('float32', [], [only.value]);
    case 'int':
      return hostTensor('int64', [], [only.value]);
    case 'floats':
      return hostTensor('float32', [only.value.length], only.value);
    case 'ints':
      return hostTensor('int64', [only.value.length], only.value);
    case 'string':
    case 'strings':
    case 'graph':
      throw new AutoparError('E_UNSUPPORTED_OP', `node '${node.name}' (Constant): ${only.kind} constants are not supported`);
  }
}

/** True when every node's inputs are defined before it (how exporters write graphs). */
function alreadySorted(nodes: readonly Node[], defined: ReadonlySet<string>): boolean {
  const seen = new Set(defined);
  for (const n of nodes) {
    if (n.inputs.some((i) => i !== '' && !seen.has(i))) return false;
    for (const o of n.outputs) seen.add(o);
  }
  return true;
}

/**
 * Kahn's algorithm, taking ready nodes in file order so that a file that is nearly
 * sorted keeps its order; a leftover node means a cycle, reported with the nodes on it.
 */
function topoSort(nodes: readonly Node[], defined: ReadonlySet<string>, source: string): Node[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) =>
    n.outputs.forEach((o) => {
      if (o === '') return;
      if (producer.has(o) || defined.has(o)) throw new AutoparError('E_GRAPH', `${source}: value '${o}' is defined more than once (again by node '${n.name}')`);
      producer.set(o, i);
    }),
  );
  const indeg = new Array<number>(nodes.length).fill(0);
  const users = nodes.map(() => [] as number[]);
  nodes.forEach((n, i) => {
    for (const inp of n.inputs) {
      if (inp === '' || defined.has(inp)) continue;
      const p = producer.get(inp);
      if (p === undefined) {
        throw new AutoparError('E_GRAPH', `${source}: node '${n.name}' (${n.op}) uses '${inp}', which no node, graph input or initializer defines`);
      }
      indeg[i] = (indeg[i] ?? 0) + 1;
      users[p]?.push(i);
    }
  });
  if (alreadySorted(nodes, defined)) return [...nodes];
  // Ready nodes in a binary min-heap by file position.
  const heap: number[] = [];
  const pushHeap = (x: number): void => {
    heap.push(x);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] ?? 0) <= x) break;
      heap[i] = heap[parent] ?? 0;
      i = parent;
    }
    heap[i] = x;
  };
  const popHeap = (): number => {
    const top = heap[0] ?? 0;
    const last = heap.pop() ?? 0;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const c = r < heap.length && (heap[r] ?? 0) < (heap[l] ?? 0) ? r : l;
        if ((heap[c] ?? 0) >= last) break;
        heap[i] = heap[c] ?? 0;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  };
  indeg.forEach((d, i) => d === 0 && pushHeap(i));
  const order: Node[] = [];
  while (heap.length > 0) {
    const i = popHeap();
    order.push(nodes[i] as Node);
    for (const u of users[i] ?? []) {
      indeg[u] = (indeg[u] ?? 0) - 1;
      if (indeg[u] === 0) pushHeap(u);
    }
  }
  if (order.length !== nodes.length) {
    const cycle = findCycle(nodes, indeg, producer);
    const shown = cycle.length > 8 ? [...cycle.slice(0, 4), '...', ...cycle.slice(-3)] : cycle;
    throw new AutoparError('E_GRAPH', `${source}: the graph has a cycle: ${[...shown, cycle[0] ?? ''].join(' -> ')} (each node uses the output of the one before)`);
  }
  return order;
}

/**
 * One cycle among the nodes Kahn's algorithm left unordered, in data-flow order. Each
 * of them has an unordered producer, so walking from producer to producer must come
 * back to a node already seen; nodes merely downstream of the cycle are not named.
 */
function findCycle(nodes: readonly Node[], indeg: readonly number[], producer: ReadonlyMap<string, number>): string[] {
  const stuck = (i: number): boolean => (indeg[i] ?? 0) > 0;
  let i = indeg.findIndex((d) => d > 0);
  const seenAt = new Map<number, number>();
  const walk: number[] = [];
  while (i >= 0 && !seenAt.has(i)) {
    seenAt.set(i, walk.length);
    walk.push(i);
    const from = (nodes[i]?.inputs ?? []).map((inp) => producer.get(inp)).find((p): p is number => p !== undefined && stuck(p));
    i = from ?? -1;
  }
  const cycle = walk.slice(seenAt.get(i) ?? 0).reverse();
  // Start at the node that comes first in the file.
  const first = cycle.indexOf(Math.min(...cycle));
  return [...cycle.slice(first), ...cycle.slice(0, first)].map((k) => nodes[k]?.name ?? '');
}

export function decodeGraph(model: ModelProto, source: string): Graph {
  const modelDir = path.dirname(path.resolve(source));
  const opset = defaultOpset(model, source);
  const g = model.graph ?? {};
  const types = new Map<string, TensorType>();

  const initializers = new Map<string, Initializer>();
  for (const t of g.initializer ?? []) {
    const d = decodeTensor(t, source, modelDir);
    if (!d.name) throw new AutoparError('E_PARSE', `${source}: an initializer has no name`);
    if (initializers.has(d.name)) throw new AutoparError('E_GRAPH', `${source}: initializer '${d.name}' is defined twice`);
    const type: TensorType = { dtype: d.dtype, shape: d.shape };
    initializers.set(d.name, { name: d.name, type, data: d.data });
    types.set(d.name, type);
  }

  const inputs: GraphInput[] = [];
  for (const vi of g.input ?? []) {
    const name = vi.name ?? '';
    if (initializers.has(name)) continue; // IR < 4 lists initializers among inputs
    const type = valueType(vi, source);
    if (types.has(name)) throw new AutoparError('E_GRAPH', `${source}: graph input '${name}' is listed twice`);
    inputs.push({ name, type });
    types.set(name, type);
  }

  const constants = new Map<string, HostTensor>();
  const nodes: Node[] = [];
  const names = new Set<string>();
  (g.node ?? []).forEach((np, i) => {
    const op = np.opType ?? '';
    let name = np.name ?? '';
    if (!name || names.has(name)) name = `${op}_${i}`;
    names.add(name);
    const where = `${source}: node '${name}' (${op})`;
    const attrs = new Map<string, AttrValue>();
    for (const a of np.attribute ?? []) attrs.set(a.name ?? '', attrValue(a, where, modelDir));
    const domain = np.domain === 'ai.onnx' ? '' : (np.domain ?? '');
    const node: Node = { name, op, domain, inputs: [...(np.input ?? [])], outputs: [...(np.output ?? [])], attrs };
    if (op === 'Constant' && domain === '') {
      const out = node.outputs[0];
      if (!out || node.outputs.length !== 1) throw new AutoparError('E_GRAPH', `${where}: needs exactly one output`);
      if (types.has(out) || constants.has(out)) throw new AutoparError('E_GRAPH', `${source}: value '${out}' is defined more than once (again by node '${name}')`);
      const v = constantValue(node);
      constants.set(out, v);
      types.set(out, { dtype: v.dtype, shape: v.shape });
      return;
    }
    opFor(node, opset); // unsupported ops fail here, with the node named
    nodes.push(node);
  });

  const outputs = (g.output ?? []).map((o) => o.name ?? '');
  const sorted = topoSort(nodes, new Set(types.keys()), source);
  const produced = new Set([...types.keys(), ...sorted.flatMap((n) => n.outputs)]);
  for (const o of outputs) {
    if (!produced.has(o)) throw new AutoparError('E_GRAPH', `${source}: graph output '${o}' is not produced by any node`);
  }
  return {
    name: g.name ?? 'main',
    opset,
    inputs,
    outputs,
    initializers,
    constants,
    nodes: sorted,
    types,
    source,
  };
}
