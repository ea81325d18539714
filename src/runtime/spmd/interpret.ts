/**
 * Runs one device's program (emit/lower/lower-mesh.ts) for some training steps: ops
 * through the same tfjs kernels as the single-device executor, on local blocks (local
 * shapes from the program's declarations), and the communication through the
 * collective library. The helper ops the lowering adds (block slicing, padding, chunk
 * permutation, vocabulary-parallel lookup) are defined here.
 */
import { AutoparError } from '../../errors.js';
import { dtypeBytes, type DType } from '../../ir/dtype.js';
import { hostFromBytes, type HostTensor, hostTensor } from '../../ir/host-tensor.js';
import type { AttrValue, Node } from '../../ir/types.js';
import type { Instruction, JsonValue, TensorDecl } from '../../emit/program.js';
import type { MeshProgram } from '../../emit/lower/lower-mesh.js';
import { meshCoords, shardOf } from '../../sharding/host-shard.js';
import { parseSpec } from '../../sharding/spec.js';
import type { Communicator } from '../collectives/communicator.js';
import { initBackend, tf } from '../backend.js';
import { KERNELS } from '../kernels/index.js';
import type { KernelContext } from '../kernels/kernel.js';
import { fromTf, tfDtype, toTf } from '../tensors.js';
import { tensorComm } from './tensor-comm.js';

export interface ProgramRun {
  /** Each step's program outputs (local blocks), by output position: all of them for the first step, the first (the loss) after it. */
  readonly steps: readonly (readonly HostTensor[])[];
}

type Attrs = { readonly [k: string]: JsonValue };

function num(a: Attrs, k: string): number {
  const v = a[k];
  if (typeof v !== 'number') throw new AutoparError('E_INTERNAL', `program attribute '${k}' is not a number`);
  return v;
}

function nums(a: Attrs, k: string): number[] {
  const v = a[k];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new AutoparError('E_INTERNAL', `program attribute '${k}' is not a list of numbers`);
  return v as number[];
}

function hostOf(v: JsonValue | undefined): HostTensor {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new AutoparError('E_INTERNAL', 'program tensor attribute is malformed');
  const o = v as { readonly [k: string]: JsonValue };
  const data = Array.isArray(o.data) ? o.data.map((x) => Number(x)) : [];
  return hostTensor(o.dtype as DType, (o.shape as number[]) ?? [], data);
}

function onnxAttrs(a: Attrs): Map<string, AttrValue> {
  const out = new Map<string, AttrValue>();
  const raw = a.onnx;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return out;
  for (const [k, v] of Object.entries(raw as { readonly [k: string]: JsonValue })) {
    const o = v as { readonly kind: AttrValue['kind']; readonly value: JsonValue };
    out.set(k, (o.kind === 'tensor' ? { kind: 'tensor', value: hostOf(o.value) } : { kind: o.kind, value: o.value }) as AttrValue);
  }
  return out;
}

/** The helper ops of the lowering, on local tensors. */
function helper(op: string, x: readonly tf.Tensor[], a: Attrs): tf.Tensor | undefined {
  const [t] = x;
  switch (op) {
    case 'Identity':
      return t && tf.clone(t);
    case 'Scale':
      return t && tf.mul(t, tf.scalar(num(a, 'factor'), t.dtype === 'float32' ? 'float32' : 'int32'));
    case 'ZerosLike':
      return t && tf.zerosLike(t);
    case 'SliceChunk': {
      if (!t) return undefined;
      const axis = num(a, 'axis');
      const size = (t.shape[axis] ?? 0) / num(a, 'parts');
      const begin = t.shape.map((_, i) => (i === axis ? size * num(a, 'index') : 0));
      const sz = t.shape.map((d, i) => (i === axis ? size : d));
      return tf.slice(t, begin, sz);
    }
    case 'PadChunk': {
      if (!t) return undefined;
      const axis = num(a, 'axis');
      const parts = num(a, 'parts');
      const index = num(a, 'index');
      const pad = t.shape.map((_, i): [number, number] => (i === axis ? [index * (t.shape[axis] ?? 0), (parts - 1 - index) * (t.shape[axis] ?? 0)] : [0, 0]));
      return tf.pad(t, pad);
    }
    case 'ChunkPermute': {
      if (!t) return undefined;
      const axis = num(a, 'axis');
      const order = nums(a, 'order');
      const chunks = tf.split(t, order.length, axis);
      const y = tf.concat(order.map((j) => chunks[j] as tf.Tensor), axis);
      chunks.forEach((c) => c.dispose());
      return y;
    }
    case 'GatherShard': {
      const [X, I] = x;
      if (!X || !I) return undefined;
      const axis = num(a, 'axis');
      const rows = num(a, 'rows');
      return tf.tidy(() => {
        const idx = tf.sub(tf.cast(I, 'int32'), tf.scalar(num(a, 'offset'), 'int32'));
        const inside = tf.logicalAnd(tf.greaterEqual(idx, tf.scalar(0, 'int32')), tf.less(idx, tf.scalar(rows, 'int32')));
        const safe = tf.where(inside, idx, tf.zerosLike(idx));
        const y = tf.gather(X, safe, axis);
        // Rows this device does not hold contribute zeros to the partial sum.
        const maskShape = [...X.shape.slice(0, axis).map(() => 1), ...I.shape, ...X.shape.slice(axis + 1).map(() => 1)];
        return tf.mul(y, tf.reshape(tf.cast(inside, y.dtype), maskShape));
      });
    }
    default:
      return undefined;
  }
}

/** Words of 4 bytes per element the plan counts for a declared dtype (tfjs holds 64-bit types in 32). */
const widthOf = (dt: DType): number => Math.max(1, dtypeBytes(dt) / 4);

/** Ops the lowering adds (Constant is read by the interpreter itself); Identity is the lowering's copy. */
const HELPERS = new Set(['Identity', 'Scale', 'ZerosLike', 'SliceChunk', 'PadChunk', 'ChunkPermute', 'GatherShard']);

/**
 * Runs `steps` steps of `program` on this worker. `weights` is the device's weight file
 * (its blocks at the load instructions' offsets); `feeds(step)` gives the global model
 * inputs, of which each device takes its block. Parameters carry from step to step.
 */
export async function runProgram(comm: Communicator, program: MeshProgram, weights: Uint8Array, feeds: (step: number) => ReadonlyMap<string, HostTensor>, steps: number): Promise<ProgramRun> {
  const backend = await initBackend();
  const tc = tensorComm(comm);
  const decls = new Map(program.tensors.map((t) => [t.name, t]));
  const pos = program.mesh.devices.indexOf(program.device);
  const meshShape = { axes: program.mesh.axes.map((name, i) => ({ name, size: program.mesh.shape[i] ?? 1 })) };
  const coords = meshCoords(meshShape, pos);
  const declOf = (name: string): TensorDecl => {
    const d = decls.get(name);
    if (!d) throw new AutoparError('E_INTERNAL', `device ${program.device}: tensor '${name}' is not declared`);
    return d;
  };
  const typeOf = (name: string): { dtype: DType; shape: number[] } => {
    const d = declOf(name);
    return { dtype: d.dtype, shape: [...d.shape] };
  };
  // Tensors that outlive a step: loaded weights (replaced by their carried updates).
  const persistent = new Set(program.instructions.filter((i): i is Extract<Instruction, { kind: 'load' }> => i.kind === 'load').map((i) => i.tensor));
  const carried = new Map(program.carry.map((c) => [c.to, c.from]));
  const keep = new Set([...program.outputs, ...program.carry.map((c) => c.from), ...persistent]);
  const lastUse = new Map<string, number>();
  program.instructions.forEach((ins, i) => {
    const reads = ins.kind === 'compute' ? ins.inputs : ins.kind === 'collective' ? [ins.input] : ins.kind === 'send' ? [ins.tensor] : [];
    for (const r of reads) lastUse.set(r, i);
  });
  const hostConsts = new Map<string, HostTensor>();
  // AUTOPAR_PROGRAM_PROFILE=1: seconds per instruction kind and op, printed by each worker at the end.
  const profile = process.env.AUTOPAR_PROGRAM_PROFILE === '1' ? new Map<string, number>() : undefined;
  let state = new Map<string, tf.Tensor>();
  const results: HostTensor[][] = [];

  for (let step = 0; step < steps; step++) {
    const env = new Map<string, tf.Tensor>(state);
    const inputs = feeds(step);
    const get = (name: string): tf.Tensor => {
      const t = env.get(name);
      if (!t) throw new AutoparError('E_INTERNAL', `device ${program.device}: tensor '${name}' is read before it is defined`);
      return t;
    };
    const set = (name: string, t: tf.Tensor): void => {
      const want = declOf(name).shape;
      if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
        throw new AutoparError('E_INTERNAL', `device ${program.device}: '${name}' came out [${t.shape.join(',')}], the program declares [${want.join(',')}]`);
      }
      const dt = tfDtype(declOf(name).dtype);
      env.set(name, t.dtype === dt ? t : tf.cast(t, dt));
    };
    for (const [i, ins] of program.instructions.entries()) {
      const t0 = profile ? performance.now() : 0;
      switch (ins.kind) {
        case 'load': {
          if (env.has(ins.tensor)) break;
          const d = declOf(ins.tensor);
          set(ins.tensor, toTf(hostFromBytes(d.dtype, d.shape, weights.subarray(ins.offset, ins.offset + ins.length))));
          break;
        }
        case 'input': {
          const full = inputs.get(ins.name);
          if (!full) throw new AutoparError('E_INTERNAL', `device ${program.device}: no value for input '${ins.name}'`);
          set(ins.tensor, toTf(shardOf(full, parseSpec(declOf(ins.tensor).sharding), meshShape, coords)));
          break;
        }
        case 'compute': {
          const a = ins.attrs;
          if (ins.op === 'Constant') {
            const h = hostOf(a.value);
            hostConsts.set(ins.outputs[0] ?? '', h);
            set(ins.outputs[0] ?? '', toTf(h));
            break;
          }
          const xs = ins.inputs.map(get);
          if (HELPERS.has(ins.op)) {
            const y = helper(ins.op, xs, a);
            if (!y) throw new AutoparError('E_INTERNAL', `device ${program.device}: helper op ${ins.op} of '${ins.node}' got bad inputs`);
            set(ins.outputs[0] ?? '', y);
            break;
          }
          const outs = runKernel(ins.op, ins.node, ins.inputs, ins.outputs, a, xs, typeOf, hostConsts, program.device);
          ins.outputs.forEach((o, k) => {
            const t = outs[k];
            if (!t) throw new AutoparError('E_INTERNAL', `device ${program.device}: node '${ins.node}' (${ins.op}) gave no output ${k}`);
            set(o, t);
          });
          break;
        }
        case 'collective': {
          const x = get(ins.input);
          const w = widthOf(ins.dtype);
          let y: tf.Tensor;
          switch (ins.op) {
            case 'all-reduce':
              y = await tc.allReduce(x, ins.group, ins.label, w);
              break;
            case 'all-gather':
              y = await tc.allGather(x, ins.group, ins.axis, ins.label, w);
              break;
            case 'reduce-scatter':
              y = await tc.reduceScatter(x, ins.group, ins.axis, ins.label, w);
              break;
            case 'all-to-all':
              y = await tc.allToAll(x, ins.group, ins.splitAxis, ins.concatAxis, ins.label, w);
              break;
            case 'broadcast':
              y = await tc.broadcast(x, ins.root, ins.group, ins.label, w);
              break;
            default: {
              const never: never = ins;
              throw new AutoparError('E_INTERNAL', `unknown collective ${JSON.stringify(never)}`);
            }
          }
          set(ins.output, y);
          break;
        }
        case 'send':
          await tc.send(get(ins.tensor), ins.peer, ins.tag, ins.label, widthOf(ins.dtype));
          break;
        case 'recv': {
          const d = declOf(ins.tensor);
          set(ins.tensor, await tc.recv(ins.peer, ins.tag, d.shape, tfDtype(d.dtype) === 'float32' ? 'float32' : 'int32', ins.label, widthOf(d.dtype)));
          break;
        }
        case 'accumulate':
        case 'update':
          throw new AutoparError('E_INTERNAL', `device ${program.device}: ${ins.kind} instructions belong to pipelined programs, which this interpreter does not run`);
        default: {
          const never: never = ins;
          throw new AutoparError('E_INTERNAL', `unknown instruction ${JSON.stringify(never)}`);
        }
      }
      if (profile) {
        const key = ins.kind === 'compute' ? ins.op : ins.kind === 'collective' ? ins.op : ins.kind;
        profile.set(key, (profile.get(key) ?? 0) + (performance.now() - t0) / 1000);
      }
      // Free what no later instruction reads.
      const reads = ins.kind === 'compute' ? ins.inputs : ins.kind === 'collective' ? [ins.input] : ins.kind === 'send' ? [ins.tensor] : [];
      for (const r of reads) {
        if (lastUse.get(r) === i && !keep.has(r)) {
          env.get(r)?.dispose();
          env.delete(r);
        }
      }
    }
    // Gradients and outputs of the first step are what runs check; later steps keep the loss (memory).
    results.push((step === 0 ? program.outputs : program.outputs.slice(0, 1)).map((o) => fromTf(get(o), declOf(o).dtype)));
    const next = new Map<string, tf.Tensor>();
    for (const p of persistent) {
      const src = carried.get(p) ?? p;
      const t = env.get(src);
      if (t) next.set(p, t);
    }
    const live = new Set(next.values());
    for (const t of env.values()) if (!live.has(t)) t.dispose();
    state = next;
  }
  for (const t of state.values()) t.dispose();
  if (profile) {
    const top = [...profile].sort((a, b) => b[1] - a[1]).slice(0, 8);
    process.stderr.write(`device ${program.device} (${backend.name}, ${steps} steps): ${top.map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}\n`);
  }
  return { steps: results };
}

function runKernel(
  op: string,
  nodeName: string,
  inputNames: readonly string[],
  outputNames: readonly string[],
  a: Attrs,
  xs: readonly tf.Tensor[],
  typeOf: (name: string) => { dtype: DType; shape: number[] },
  hostConsts: ReadonlyMap<string, HostTensor>,
  device: number,
): tf.Tensor[] {
  const kernel = KERNELS.get(op);
  if (!kernel) throw new AutoparError('E_UNSUPPORTED_OP', `device ${device}: node '${nodeName}': op '${op}' has no tfjs lowering`);
  // Put omitted inputs and unused outputs back where the op expects them.
  const holes = new Set(Array.isArray(a.holes) ? (a.holes as number[]) : []);
  const unused = new Set(Array.isArray(a.unused) ? (a.unused as number[]) : []);
  const ins: (string | undefined)[] = [];
  const vals: (tf.Tensor | undefined)[] = [];
  let k = 0;
  for (let i = 0; k < inputNames.length || holes.has(i); i++) {
    if (holes.has(i)) {
      ins.push(undefined);
      vals.push(undefined);
    } else {
      ins.push(inputNames[k]);
      vals.push(xs[k]);
      k++;
    }
  }
  const outs: (string | undefined)[] = [];
  k = 0;
  for (let i = 0; k < outputNames.length || unused.has(i); i++) outs.push(unused.has(i) ? undefined : outputNames[k++]);
  const node: Node = { name: nodeName, op, domain: '', inputs: ins.map((n) => n ?? ''), outputs: outs.map((n) => n ?? ''), attrs: onnxAttrs(a) };
  const ctx: KernelContext = {
    node,
    opset: typeof a.opset === 'number' ? a.opset : 13,
    inputs: ins.map((n) => (n === undefined ? undefined : typeOf(n))),
    outputs: outs.map((n) => (n === undefined ? { dtype: 'float32', shape: [] } : typeOf(n))),
    constant: (i) => {
      const n = ins[i];
      return n === undefined ? undefined : hostConsts.get(n);
    },
  };
  let result: tf.Tensor[];
  try {
    result = kernel(vals, ctx);
  } catch (e) {
    if (e instanceof AutoparError) throw e;
    throw new AutoparError('E_INTERNAL', `device ${device}: node '${nodeName}' (${op}) failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const kept: tf.Tensor[] = [];
  result.forEach((t, i) => {
    if (unused.has(i)) t.dispose();
    else kept.push(t);
  });
  return kept;
}
