/**
 * The per-device program IR: what one device runs in one training (or inference) step,
 * as a flat instruction list over named local tensors. A plan is lowered into one
 * DeviceProgram per device; verify.ts proves the set is consistent before anything runs
 * and print.ts writes each as a readable tfjs module.
 *
 * Tensors are single-assignment: each is defined once (by load, input, recv, compute or
 * a collective's output) except that `accumulate` adds into its destination and
 * `update` rewrites a parameter and its optimizer states in place. Tensors declared
 * with `init: 'zeros'` (gradient accumulators) exist from the start.
 */
import type { DType } from '../ir/dtype.js';
import { dtypeBytes } from '../ir/dtype.js';

/** Plain JSON, so attributes survive stable serialisation and printing unchanged. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** One local tensor: this device's shard of a plan value. */
export interface TensorDecl {
  readonly name: string;
  /** The local shard's shape, not the global one. */
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** The plan value (or parameter, or gradient) this is a shard of. */
  readonly source: string;
  /** The value's sharding as text (e.g. `S(dp)R`, `R partial(tp)`), for readers. */
  readonly sharding: string;
  /** `zeros`: allocated as zeros before the first instruction (accumulators). */
  readonly init: 'zeros' | null;
}

/** The stage's logical mesh, as plan.json's stage holds it. */
export interface MeshInfo {
  readonly shape: readonly number[];
  readonly axes: readonly string[];
  /** Global device ids in mesh order (row-major). */
  readonly devices: readonly number[];
}

export type GroupCollectiveKind = 'all-reduce' | 'all-gather' | 'reduce-scatter' | 'all-to-all' | 'broadcast';
export const GROUP_COLLECTIVE_KINDS: readonly GroupCollectiveKind[] = ['all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all', 'broadcast'];

export interface ComputeInstruction {
  readonly kind: 'compute';
  /** ONNX op type (MatMul, Add, ...), or an autopar op for backward and optimizer helpers. */
  readonly op: string;
  /** The graph node it came from, so a printed line links back to the model. */
  readonly node: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: { readonly [key: string]: JsonValue };
  readonly mb: number | null;
}

interface CollectiveBase {
  readonly kind: 'collective';
  /** Sorted global device ids, containing this device. */
  readonly group: readonly number[];
  readonly input: string;
  readonly output: string;
  /** Elements of the input on each member (the same on all); with dtype, the bytes. */
  readonly count: number;
  readonly dtype: DType;
  /** Stable across members: `${value}->${consumer}#k`; the runtime's errors name it. */
  readonly label: string;
  /** The plan value and the consumer node this collective serves (plan.json's collectives). */
  readonly value: string;
  readonly consumer: string;
  readonly mb: number | null;
}

/** all-gather: output concatenates the members' inputs along `axis`; reduce-scatter: sums, then member i keeps slice i along `axis`. */
export type CollectiveInstruction =
  | (CollectiveBase & { readonly op: 'all-reduce' })
  | (CollectiveBase & { readonly op: 'broadcast'; readonly root: number })
  | (CollectiveBase & { readonly op: 'all-gather'; readonly axis: number })
  | (CollectiveBase & { readonly op: 'reduce-scatter'; readonly axis: number })
  /** Input split into n along splitAxis, piece j to member j; received pieces concatenated along concatAxis. */
  | (CollectiveBase & { readonly op: 'all-to-all'; readonly splitAxis: number; readonly concatAxis: number });

export interface SendInstruction {
  readonly kind: 'send';
  readonly peer: number;
  /** 0..32767, as the collective library accepts. */
  readonly tag: number;
  readonly tensor: string;
  readonly count: number;
  readonly dtype: DType;
  readonly label: string;
  readonly mb: number | null;
}

export interface RecvInstruction {
  readonly kind: 'recv';
  readonly peer: number;
  readonly tag: number;
  /** Defined by this instruction. */
  readonly tensor: string;
  readonly count: number;
  readonly dtype: DType;
  readonly label: string;
  readonly mb: number | null;
}

/** Gradient accumulation across micro-batches: dst += src (dst defined before, e.g. zeros). */
export interface AccumulateInstruction {
  readonly kind: 'accumulate';
  readonly dst: string;
  readonly src: string;
  readonly mb: number | null;
}

/** The optimizer step for one parameter (shard): rewrites param and states in place. */
export interface UpdateInstruction {
  readonly kind: 'update';
  readonly optimizer: string;
  readonly param: string;
  readonly grad: string;
  readonly states: readonly string[];
  readonly label: string;
}

/** A weight shard read from a file: bytes [offset, offset + length). */
export interface LoadInstruction {
  readonly kind: 'load';
  readonly tensor: string;
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

/** This device's shard of a model input (data, target) for one micro-batch. */
export interface InputInstruction {
  readonly kind: 'input';
  readonly tensor: string;
  /** The model input's name. */
  readonly name: string;
  readonly mb: number | null;
}

export type Instruction =
  | ComputeInstruction
  | CollectiveInstruction
  | SendInstruction
  | RecvInstruction
  | AccumulateInstruction
  | UpdateInstruction
  | LoadInstruction
  | InputInstruction;

export type InstructionKind = Instruction['kind'];

export interface DeviceProgram {
  readonly device: number;
  readonly stage: number;
  readonly mesh: MeshInfo;
  readonly tensors: readonly TensorDecl[];
  readonly instructions: readonly Instruction[];
  /** Tensors the step returns (loss, model outputs), by local name. */
  readonly outputs: readonly string[];
}

export interface ScheduleInfo {
  readonly kind: 'none' | 'gpipe' | '1f1b';
  readonly stages: number;
  readonly microbatches: number;
}

/** One program per device; programs[d].device === d. */
export interface ProgramSet {
  readonly schedule: ScheduleInfo;
  readonly programs: readonly DeviceProgram[];
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Bytes of one call on each member, nccl-tests' convention as the collective library
 * counts them (docs/runtime.md), so emitted programs can be checked against plan bytes.
 */
export function instructionBytes(ins: CollectiveInstruction | SendInstruction | RecvInstruction): number {
  const b = dtypeBytes(ins.dtype);
  if (ins.kind !== 'collective') return ins.count * b;
  switch (ins.op) {
    case 'all-gather':
      return ins.count * ins.group.length * b;
    case 'all-reduce':
    case 'reduce-scatter':
    case 'all-to-all':
    case 'broadcast':
      return ins.count * b;
    default: {
      const _: never = ins;
      return _;
    }
  }
}

/** The label an instruction is known by in reports and printed comments. */
export function instructionLabel(ins: Instruction): string {
  switch (ins.kind) {
    case 'compute':
      return ins.node;
    case 'collective':
    case 'send':
    case 'recv':
    case 'update':
      return ins.label;
    case 'accumulate':
      return `${ins.dst}+=${ins.src}`;
    case 'load':
      return `${ins.path}@${ins.offset}`;
    case 'input':
      return ins.mb === null ? ins.name : `${ins.name}@mb${ins.mb}`;
    default: {
      const _: never = ins;
      return _;
    }
  }
}

/** Short text for messages: `all-reduce over [0,1] 'g->u#0'`, `send to 1 tag 3 'a'`. */
export function describe(ins: Instruction): string {
  switch (ins.kind) {
    case 'compute':
      return `compute ${ins.op} '${ins.node}'`;
    case 'collective':
      return `${ins.op} over [${ins.group.join(',')}] '${ins.label}'`;
    case 'send':
      return `send to ${ins.peer} tag ${ins.tag} '${ins.label}'`;
    case 'recv':
      return `recv from ${ins.peer} tag ${ins.tag} '${ins.label}'`;
    case 'accumulate':
      return `accumulate ${ins.dst} += ${ins.src}`;
    case 'update':
      return `update ${ins.param} '${ins.label}'`;
    case 'load':
      return `load ${ins.tensor} from ${ins.path}`;
    case 'input':
      return `input ${ins.name} -> ${ins.tensor}`;
    default: {
      const _: never = ins;
      return _;
    }
  }
}

/** Tensors an instruction reads, and the ones it (re)defines. */
export function uses(ins: Instruction): { readonly reads: readonly string[]; readonly writes: readonly string[] } {
  switch (ins.kind) {
    case 'compute':
      return { reads: ins.inputs, writes: ins.outputs };
    case 'collective':
      return { reads: [ins.input], writes: [ins.output] };
    case 'send':
      return { reads: [ins.tensor], writes: [] };
    case 'recv':
    case 'load':
    case 'input':
      return { reads: [], writes: [ins.tensor] };
    case 'accumulate':
      return { reads: [ins.dst, ins.src], writes: [ins.dst] };
    case 'update':
      return { reads: [ins.param, ins.grad, ...ins.states], writes: [ins.param, ...ins.states] };
    default: {
      const _: never = ins;
      return _;
    }
  }
}

export type CommKind = GroupCollectiveKind | 'send' | 'recv';

/**
 * Per kind, the calls and bytes this device's program makes, as the collective
 * library's counts() will measure them on that rank: the prediction a run is checked against.
 */
export function countCommunication(p: DeviceProgram): Partial<Record<CommKind, { readonly count: number; readonly bytes: number }>> {
  const out: Partial<Record<CommKind, { count: number; bytes: number }>> = {};
  for (const ins of p.instructions) {
    if (ins.kind !== 'collective' && ins.kind !== 'send' && ins.kind !== 'recv') continue;
    const kind: CommKind = ins.kind === 'collective' ? ins.op : ins.kind;
    const k = (out[kind] ??= { count: 0, bytes: 0 });
    k.count += 1;
    k.bytes += instructionBytes(ins);
  }
  return out;
}
