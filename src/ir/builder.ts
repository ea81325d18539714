/**
 * Builds graphs node by node with types inferred as nodes are added, so every value a
 * pass creates is typed at once. Used by autodiff, losses and optimizers.
 */
import { AutoparError } from '../errors.js';
import { type DType, isFloat } from './dtype.js';
import { type HostTensor, hostTensor } from './host-tensor.js';
import { type AttrValue, type Graph, type GraphInput, type Initializer, inlineData, type Node, type TensorType } from './types.js';
import type { NodeContext } from '../ops/op.js';
import { opFor } from '../ops/registry.js';

export type AttrInit = number | string | readonly number[] | HostTensor | { readonly float: number };

function toAttr(v: AttrInit): AttrValue {
  if (typeof v === 'number') return { kind: 'int', value: v };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) return { kind: 'ints', value: v as readonly number[] };
  if ('float' in v) return { kind: 'float', value: v.float };
  return { kind: 'tensor', value: v as HostTensor };
}

export class GraphBuilder {
  private readonly nodes: Node[];
  private readonly types: Map<string, TensorType>;
  private readonly constants: Map<string, HostTensor>;
  private readonly initializers: Map<string, Initializer>;
  private readonly inputs: GraphInput[];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(private readonly base: Graph) {
    this.nodes = [...base.nodes];
    this.types = new Map(base.types);
    this.constants = new Map(base.constants);
    this.initializers = new Map(base.initializers);
    this.inputs = [...base.inputs];
    for (const k of this.types.keys()) this.used.add(k);
    for (const n of base.nodes) this.used.add(n.name);
  }

  /** A builder over an empty graph, for graphs made from scratch (tests, generators). */
  static empty(opset: number, name = 'main'): GraphBuilder {
    return new GraphBuilder({ name, opset, inputs: [], outputs: [], initializers: new Map(), constants: new Map(), nodes: [], types: new Map(), source: name });
  }

  get opset(): number {
    return this.base.opset;
  }

  /** A fresh name with the given stem, unique among values and nodes. */
  fresh(stem: string): string {
    let name = stem;
    while (this.used.has(name)) name = `${stem}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  type(name: string): TensorType {
    const t = this.types.get(name);
    if (!t) throw new AutoparError('E_INTERNAL', `builder: value '${name}' has no type`);
    return t;
  }

  shape(name: string): number[] {
    const s = this.type(name).shape;
    return s.map((d) => {
      if (typeof d !== 'number') throw new AutoparError('E_DIM', `value '${name}' has a symbolic shape; bind dims first`);
      return d;
    });
  }

  constantValue(name: string): HostTensor | undefined {
    const c = this.constants.get(name);
    if (c) return c;
    const init = this.initializers.get(name);
    return init && !isFloat(init.type.dtype) ? inlineData(init.data) : undefined;
  }

  /** The inference context of a node already in the graph (gradient rules re-derive windows, axes, slices). */
  nodeContext(node: Node): NodeContext {
    return { node, opset: this.base.opset, inputs: node.inputs.map((v) => (v === '' ? undefined : this.type(v))), constant: (i) => this.constantValue(node.inputs[i] ?? '') };
  }

  constant(value: HostTensor, stem = 'const'): string {
    const name = this.fresh(stem);
    this.constants.set(name, value);
    this.types.set(name, { dtype: value.dtype, shape: value.shape });
    return name;
  }

  scalar(v: number, dtype: DType = 'float32'): string {
    return this.constant(hostTensor(dtype, [], [v]), 'scalar');
  }

  ints(values: readonly number[]): string {
    return this.constant(hostTensor('int64', [values.length], values), 'ints');
  }

  input(name: string, type: TensorType): string {
    if (this.used.has(name) && this.types.has(name)) throw new AutoparError('E_GRAPH', `builder: value '${name}' already exists`);
    this.used.add(name);
    this.inputs.push({ name, type });
    this.types.set(name, type);
    return name;
  }

  initializer(name: string, value: HostTensor | Initializer['data'], type: TensorType): string {
    if (this.types.has(name)) throw new AutoparError('E_GRAPH', `builder: value '${name}' already exists`);
    this.used.add(name);
    this.initializers.set(name, { name, type, data: value });
    this.types.set(name, type);
    return name;
  }

  /** Adds a node; returns its output names (typed by the op's inference). */
  add(op: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrInit>> = {}, opts: { outputs?: number; stem?: string } = {}): string[] {
    const name = this.fresh(opts.stem ?? op);
    const count = opts.outputs ?? 1;
    const outputs = Array.from({ length: count }, (_, i) => this.fresh(`${name}${count > 1 ? `_${i}` : ''}.out`));
    const node: Node = {
      name,
      op,
      domain: '',
      inputs: [...inputs],
      outputs,
      attrs: new Map(Object.entries(attrs).map(([k, v]) => [k, toAttr(v)])),
    };
    const impl = opFor(node, this.base.opset);
    const ctx: NodeContext = {
      node,
      opset: this.base.opset,
      inputs: inputs.map((i) => (i === '' ? undefined : this.type(i))),
      constant: (i) => {
        const n = inputs[i];
        return n ? this.constantValue(n) : undefined;
      },
    };
    const types = impl.infer(ctx);
    outputs.forEach((o, i) => {
      const t = types[i];
      if (!t) throw new AutoparError('E_INTERNAL', `builder: ${op} produced no type for output ${i}`);
      this.types.set(o, t);
    });
    this.nodes.push(node);
    return outputs;
  }

  /** Single-output shorthand. */
  op(op: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrInit>> = {}, stem?: string): string {
    const [o] = this.add(op, inputs, attrs, { stem });
    if (o === undefined) throw new AutoparError('E_INTERNAL', `builder: ${op} has no output`);
    return o;
  }

  build(outputs: readonly string[], name?: string): Graph {
    return {
      ...this.base,
      name: name ?? this.base.name,
      inputs: [...this.inputs],
      outputs: [...outputs],
      initializers: new Map(this.initializers),
      constants: new Map(this.constants),
      nodes: [...this.nodes],
      types: new Map(this.types),
    };
  }
}
