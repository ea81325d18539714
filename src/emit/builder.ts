/**
 * Builds one DeviceProgram instruction by instruction, filling in what follows from
 * the declarations (element counts, dtypes, load lengths, collective output shapes,
 * `${value}->${consumer}#k` labels), so a lowering and hand-made tests state only intent.
 */
import { AutoparError } from '../errors.js';
import { dtypeBytes, type DType } from '../ir/dtype.js';
import {
  elementCount,
  type CollectiveInstruction,
  type DeviceProgram,
  type Instruction,
  type JsonValue,
  type MeshInfo,
  type TensorDecl,
} from './program.js';

export interface TensorOptions {
  readonly dtype?: DType;
  readonly source?: string;
  readonly sharding?: string;
  readonly init?: 'zeros' | null;
}

/** The kind-specific part of a collective; the builder adds the rest. */
export type CollectiveOp =
  | { readonly op: 'all-reduce' }
  | { readonly op: 'broadcast'; readonly root: number }
  | { readonly op: 'all-gather'; readonly axis: number }
  | { readonly op: 'reduce-scatter'; readonly axis: number }
  | { readonly op: 'all-to-all'; readonly splitAxis: number; readonly concatAxis: number };

export interface CollectiveArgs {
  readonly input: string;
  /** Declared here with the shape the kind gives, unless already declared. */
  readonly output: string;
  readonly group: readonly number[];
  readonly value: string;
  readonly consumer: string;
  readonly mb?: number | null;
  /** Sharding text of the output, when declared here (default: the input's). */
  readonly sharding?: string;
}

export class ProgramBuilder {
  private readonly decls = new Map<string, TensorDecl>();
  private readonly list: Instruction[] = [];
  private readonly outs: string[] = [];
  private readonly labelCounts = new Map<string, number>();

  constructor(
    readonly device: number,
    readonly stage: number,
    readonly mesh: MeshInfo,
  ) {}

  tensor(name: string, shape: readonly number[], opts: TensorOptions = {}): this {
    if (this.decls.has(name)) throw new AutoparError('E_INTERNAL', `device ${this.device}: tensor '${name}' declared twice`);
    this.decls.set(name, {
      name,
      shape: [...shape],
      dtype: opts.dtype ?? 'float32',
      source: opts.source ?? name,
      sharding: opts.sharding ?? 'R',
      init: opts.init ?? null,
    });
    return this;
  }

  decl(name: string): TensorDecl {
    const d = this.decls.get(name);
    if (!d) throw new AutoparError('E_INTERNAL', `device ${this.device}: tensor '${name}' is not declared`);
    return d;
  }

  push(ins: Instruction): this {
    this.list.push(ins);
    return this;
  }

  compute(op: string, node: string, inputs: readonly string[], outputs: readonly string[], attrs: { readonly [k: string]: JsonValue } = {}, mb: number | null = null): this {
    return this.push({ kind: 'compute', op, node, inputs: [...inputs], outputs: [...outputs], attrs, mb });
  }

  collective(spec: CollectiveOp, args: CollectiveArgs): string {
    const input = this.decl(args.input);
    const n = args.group.length;
    const base = `${args.value}->${args.consumer}`;
    const k = this.labelCounts.get(base) ?? 0;
    this.labelCounts.set(base, k + 1);
    if (!this.decls.has(args.output)) {
      this.tensor(args.output, outputShape(spec, input.shape, n), { dtype: input.dtype, source: args.value, sharding: args.sharding ?? input.sharding });
    }
    const common = {
      kind: 'collective' as const,
      group: [...args.group],
      input: args.input,
      output: args.output,
      count: elementCount(input.shape),
      dtype: input.dtype,
      label: `${base}#${k}`,
      value: args.value,
      consumer: args.consumer,
      mb: args.mb ?? null,
    };
    const ins: CollectiveInstruction = { ...common, ...spec };
    this.push(ins);
    return ins.label;
  }

  send(peer: number, tag: number, tensor: string, label: string, mb: number | null = null): this {
    const d = this.decl(tensor);
    return this.push({ kind: 'send', peer, tag, tensor, count: elementCount(d.shape), dtype: d.dtype, label, mb });
  }

  recv(peer: number, tag: number, tensor: string, label: string, mb: number | null = null): this {
    const d = this.decl(tensor);
    return this.push({ kind: 'recv', peer, tag, tensor, count: elementCount(d.shape), dtype: d.dtype, label, mb });
  }

  accumulate(dst: string, src: string, mb: number | null = null): this {
    return this.push({ kind: 'accumulate', dst, src, mb });
  }

  update(optimizer: string, param: string, grad: string, states: readonly string[] = [], label = `update/${param}`): this {
    return this.push({ kind: 'update', optimizer, param, grad, states: [...states], label });
  }

  load(tensor: string, path: string, offset = 0): this {
    const d = this.decl(tensor);
    return this.push({ kind: 'load', tensor, path, offset, length: elementCount(d.shape) * dtypeBytes(d.dtype) });
  }

  input(tensor: string, name: string, mb: number | null = null): this {
    return this.push({ kind: 'input', tensor, name, mb });
  }

  output(name: string): this {
    this.outs.push(name);
    return this;
  }

  build(): DeviceProgram {
    return {
      device: this.device,
      stage: this.stage,
      mesh: this.mesh,
      tensors: [...this.decls.values()],
      instructions: [...this.list],
      outputs: [...this.outs],
    };
  }
}

/** The output shape a collective over n members gives; a bad split is left for the verifier. */
function outputShape(spec: CollectiveOp, input: readonly number[], n: number): number[] {
  const at = (axis: number, f: (d: number) => number): number[] => input.map((d, i) => (i === axis ? f(d) : d));
  switch (spec.op) {
    case 'all-reduce':
    case 'broadcast':
      return [...input];
    case 'all-gather':
      return at(spec.axis, (d) => d * n);
    case 'reduce-scatter':
      return at(spec.axis, (d) => Math.floor(d / n));
    case 'all-to-all':
      return at(spec.splitAxis, (d) => Math.floor(d / n)).map((d, i) => (i === spec.concatAxis ? d * n : d));
    default: {
      const _: never = spec;
      return _;
    }
  }
}
