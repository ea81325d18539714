/**
 * Seeded corruptions of a model file for the import fuzz test: flipped bytes, large
 * varints, truncation, deleted, duplicated and spliced ranges. Most of a model with
 * weights is raw tensor data, where corruption only changes values; so most mutations
 * aim at the structure (everything outside large raw_data fields).
 */
import { onnx } from '../../src/onnx/proto.js';
import { Rng } from './random.js';

export interface Corruption {
  readonly bytes: Uint8Array;
  /** What was done, to reproduce and report a failing case. */
  readonly steps: readonly string[];
}

/** Byte ranges [start, end) of raw_data fields of 1 KiB or more (initializers and Constant tensors). */
export function rawDataRanges(bytes: Uint8Array): [number, number][] {
  const model = onnx.ModelProto.decode(bytes);
  const ranges: [number, number][] = [];
  const add = (raw: Uint8Array | null | undefined): void => {
    if (!raw || raw.byteLength < 1024 || raw.buffer !== bytes.buffer) return;
    const start = raw.byteOffset - bytes.byteOffset;
    ranges.push([start, start + raw.byteLength]);
  };
  for (const t of model.graph?.initializer ?? []) add(t.rawData);
  for (const n of model.graph?.node ?? []) for (const a of n.attribute ?? []) add(a.t?.rawData);
  return ranges.sort((a, b) => a[0] - b[0]);
}

/** Positions outside the given ranges, as a list of [start, end) intervals. */
function complement(length: number, ranges: readonly [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let at = 0;
  for (const [s, e] of ranges) {
    if (s > at) out.push([at, s]);
    at = Math.max(at, e);
  }
  if (at < length) out.push([at, length]);
  return out;
}

export class Corrupter {
  private readonly hot: [number, number][];
  private readonly hotSize: number;
  constructor(
    readonly original: Uint8Array,
    coldRanges: readonly [number, number][],
  ) {
    this.hot = complement(original.length, coldRanges);
    this.hotSize = this.hot.reduce((s, [a, b]) => s + (b - a), 0);
  }

  /** A position in the structure (outside raw data) 85% of the time, anywhere otherwise. */
  private position(rng: Rng, length: number): number {
    if (this.hotSize > 0 && rng.next() < 0.85) {
      let k = rng.int(0, this.hotSize);
      for (const [a, b] of this.hot) {
        if (k < b - a) return Math.min(a + k, length - 1);
        k -= b - a;
      }
    }
    return rng.int(0, Math.max(1, length));
  }

  /**
   * Half the cases edit the decoded model (attribute values, int64 constants, dims,
   * dtypes, op types, wiring) and re-encode it: still valid protobuf, so the damage
   * reaches shape inference. The rest, and some of those, corrupt bytes.
   */
  corrupt(seed: number): Corruption {
    const rng = new Rng(seed);
    const steps: string[] = [];
    if (rng.next() < 0.5) {
      const m = onnx.ModelProto.decode(this.original);
      const edits = rng.int(1, 4);
      for (let k = 0; k < edits; k++) steps.push(editModel(m, rng));
      const bytes = onnx.ModelProto.encode(m).finish();
      if (rng.next() < 0.8) return { bytes, steps };
      return this.corruptBytes(bytes, rng, steps, 1);
    }
    return this.corruptBytes(this.original.slice(), rng, steps, 1 + Math.floor(rng.next() * rng.next() * 4));
  }

  private corruptBytes(start: Uint8Array, rng: Rng, steps: string[], n: number): Corruption {
    let b = start;
    for (let k = 0; k < n && b.length > 0; k++) {
      const kind = rng.int(0, 8);
      const p = this.position(rng, b.length);
      const len = Math.min(b.length - p, rng.pick([1, 2, 4, 16, 64, 256, 4096]));
      switch (kind) {
        case 0:
        case 1: {
          // Flip a few bits or overwrite a byte.
          const count = rng.int(1, 4);
          for (let i = 0; i < count; i++) {
            const q = Math.min(b.length - 1, p + i * rng.int(1, 32));
            const v = kind === 0 ? (b[q] ?? 0) ^ (1 << rng.int(0, 8)) : rng.int(0, 256);
            b[q] = v;
          }
          steps.push(`${kind === 0 ? 'flip' : 'set'} ${count} byte(s) from ${p}`);
          break;
        }
        case 2: {
          // A huge varint where a length, count or enum used to be.
          const big = [0xff, 0xff, 0xff, 0xff, rng.pick([0x07, 0x0f, 0x7f]), 0x01];
          b.set(big.slice(0, Math.min(big.length, b.length - p)), p);
          steps.push(`big varint at ${p}`);
          break;
        }
        case 3:
          b = b.slice(0, p);
          steps.push(`truncate at ${p}`);
          break;
        case 4:
          b = concat(b.subarray(0, p), b.subarray(p + len));
          steps.push(`delete [${p}, ${p + len})`);
          break;
        case 5:
          b = concat(b.subarray(0, p + len), b.subarray(p, p + len), b.subarray(p + len));
          steps.push(`duplicate [${p}, ${p + len})`);
          break;
        case 6: {
          // Splice: copy a range from elsewhere in the file over or into this spot.
          const from = this.position(rng, b.length);
          const piece = b.slice(from, Math.min(b.length, from + len));
          b = rng.next() < 0.5 ? concat(b.subarray(0, p), piece, b.subarray(p)) : concat(b.subarray(0, p), piece, b.subarray(p + piece.length));
          steps.push(`splice [${from}, ${from + piece.length}) at ${p}`);
          break;
        }
        default: {
          // Swap two bytes.
          const q = this.position(rng, b.length);
          const t = b[p] ?? 0;
          b[p] = b[q] ?? 0;
          b[q] = t;
          steps.push(`swap ${p} and ${q}`);
        }
      }
    }
    return { bytes: b, steps };
  }
}

type ModelProto = ReturnType<typeof onnx.ModelProto.decode>;

/** Values that break shape arithmetic in interesting ways. */
const NASTY = [-3, -2, -1, 0, 1, 2, 3, 5, 64, 1 << 20, 2 ** 31, 2 ** 40, -(2 ** 40)];

/** One structural edit of a decoded model; returns its description. */
function editModel(m: ModelProto, rng: Rng): string {
  const g = m.graph;
  if (!g) return 'no graph';
  const nodes = g.node ?? [];
  const node = nodes.length ? rng.pick(nodes) : undefined;
  const names = [...new Set([...(g.input ?? []).map((v) => v.name ?? ''), ...(g.initializer ?? []).map((t) => t.name ?? ''), ...nodes.flatMap((n) => n.output ?? [])])];
  switch (rng.int(0, 11)) {
    case 0: {
      // An int attribute gets a nasty value.
      const a = node ? (node.attribute ?? []).find((x) => x.type === onnx.AttributeProto.AttributeType.INT) : undefined;
      if (!node || !a) return 'no int attribute';
      a.i = rng.pick(NASTY);
      return `node '${node.name ?? ''}' attribute ${a.name ?? ''} = ${String(a.i)}`;
    }
    case 1: {
      // An ints attribute (perm, pads, strides, axes, kernel_shape) is perturbed.
      const a = node ? (node.attribute ?? []).find((x) => x.type === onnx.AttributeProto.AttributeType.INTS) : undefined;
      if (!node || !a) return 'no ints attribute';
      const ints = [...(a.ints ?? [])];
      const r = rng.int(0, 3);
      if (r === 0 && ints.length) ints[rng.int(0, ints.length)] = rng.pick(NASTY);
      else if (r === 1) ints.pop();
      else ints.push(rng.pick(NASTY));
      a.ints = ints;
      return `node '${node.name ?? ''}' attribute ${a.name ?? ''} = [${ints.join(',')}]`;
    }
    case 2: {
      // One element of an int64 constant (a Reshape target, Slice bounds, axes) changes.
      const consts = nodes.filter((n) => n.opType === 'Constant' && (n.attribute ?? [])[0]?.t?.dataType === 7);
      const t = consts.length ? (rng.pick(consts).attribute ?? [])[0]?.t : undefined;
      const raw = t?.rawData;
      if (!t || !raw || raw.byteLength < 8) return 'no int64 constant';
      const copy = raw.slice();
      const at = rng.int(0, copy.byteLength / 8);
      new DataView(copy.buffer).setBigInt64(at * 8, BigInt(rng.pick(NASTY)), true);
      t.rawData = copy;
      return `int64 constant '${t.name ?? ''}' element ${at} changed`;
    }
    case 3: {
      // A graph input's dimension changes or becomes symbolic.
      const inp = (g.input ?? []).find((v) => v.type?.tensorType?.shape?.dim?.length);
      const dims = inp?.type?.tensorType?.shape?.dim ?? [];
      if (!inp || !dims.length) return 'no input dims';
      const d = rng.pick(dims);
      if (rng.next() < 0.3) {
        d.dimValue = null;
        d.dimParam = rng.pick(['batch', 'n', 'seq']);
      } else {
        d.dimParam = null;
        d.dimValue = rng.pick([0, 1, 2, 3, 7, 1000]);
      }
      return `input '${inp.name ?? ''}' dims changed`;
    }
    case 4: {
      // A node reads another value (or an omitted one).
      if (!node || !(node.input ?? []).length) return 'no node input';
      const inputs = [...(node.input ?? [])];
      const i = rng.int(0, inputs.length);
      inputs[i] = rng.next() < 0.15 ? '' : rng.pick(names);
      node.input = inputs;
      return `node '${node.name ?? ''}' input ${i} = '${inputs[i] ?? ''}'`;
    }
    case 5: {
      // An input is dropped or one is added.
      if (!node) return 'no node';
      const inputs = [...(node.input ?? [])];
      if (rng.next() < 0.5 && inputs.length) inputs.splice(rng.int(0, inputs.length), 1);
      else inputs.push(rng.pick(names));
      node.input = inputs;
      return `node '${node.name ?? ''}' now has ${inputs.length} inputs`;
    }
    case 6: {
      // A node becomes another op (same wiring).
      if (!node) return 'no node';
      const ops = ['Add', 'MatMul', 'Gemm', 'Conv', 'Reshape', 'Transpose', 'Slice', 'Split', 'Concat', 'Gather', 'Softmax', 'Expand', 'Range', 'ConstantOfShape', 'Where', 'Unsqueeze', 'Squeeze', 'MaxPool', 'LayerNormalization', 'Flatten', 'Shape', 'Cast', 'Tile', 'Einsum', 'ReduceMean', 'Pow'];
      node.opType = rng.pick(ops);
      return `node '${node.name ?? ''}' becomes ${node.opType}`;
    }
    case 7: {
      // A node's output is renamed, or made to redefine an existing value.
      if (!node || !(node.output ?? []).length) return 'no node output';
      const outs = [...(node.output ?? [])];
      outs[rng.int(0, outs.length)] = rng.next() < 0.5 ? rng.pick(names) : `renamed_${rng.int(0, 1000)}`;
      node.output = outs;
      return `node '${node.name ?? ''}' outputs [${outs.join(', ')}]`;
    }
    case 8: {
      // A node disappears.
      if (!node) return 'no node';
      g.node = nodes.filter((n) => n !== node);
      return `node '${node.name ?? ''}' removed`;
    }
    case 9: {
      // An attribute changes type, or a value changes element type.
      if (node && (node.attribute ?? []).length && rng.next() < 0.5) {
        const a = rng.pick(node.attribute ?? []);
        a.type = rng.pick([1, 2, 3, 4, 6, 7, 8, 5, 11]);
        return `node '${node.name ?? ''}' attribute ${a.name ?? ''} type ${a.type}`;
      }
      const inp = (g.input ?? [])[0];
      if (!inp?.type?.tensorType) return 'no input type';
      inp.type.tensorType.elemType = rng.pick([0, 1, 6, 7, 9, 10, 11, 16, 8, 99]);
      return `input '${inp.name ?? ''}' elemType ${inp.type.tensorType.elemType}`;
    }
    default: {
      // The opset changes.
      const imp = (m.opsetImport ?? [])[0];
      if (!imp) return 'no opset';
      imp.version = rng.pick([1, 7, 11, 12, 13, 14, 17, 18, 21, 22, 100]);
      return `opset ${String(imp.version)}`;
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
