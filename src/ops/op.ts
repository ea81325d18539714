/**
 * What autopar knows about an operator, independent of any target: attributes, shape
 * and dtype inference, constant folding on the host, FLOPs and bytes. Sharding rules
 * (`sharding`) and gradient rules (`gradient`) join each op's file in later passes.
 */
import { AutoparError } from '../errors.js';
import type { HostTensor } from '../ir/host-tensor.js';
import type { Node, TensorType } from '../ir/types.js';
import type { GraphBuilder } from '../ir/builder.js';
import { AttrReader } from './attrs.js';
import type { ShardingContext, ShardingRule } from './sharding-rule.js';

export interface NodeContext {
  readonly node: Node;
  readonly opset: number;
  /** Input types; undefined where an optional input is omitted. */
  readonly inputs: readonly (TensorType | undefined)[];
  /** Host value of input i when it is a constant (initializer with data, folded value). */
  constant(i: number): HostTensor | undefined;
}

export interface CostContext {
  readonly node: Node;
  readonly opset: number;
  readonly inputs: readonly (ConcreteType | undefined)[];
  readonly outputs: readonly ConcreteType[];
}

export interface ConcreteType {
  readonly dtype: TensorType['dtype'];
  readonly shape: readonly number[];
}

export interface OpCost {
  /** Floating-point operations; a multiply-add counts 2. */
  readonly flops: number;
  /** Bytes read and written from device memory, assuming no fusion. */
  readonly bytes: number;
  /** Roofline class for the cost model's efficiency factors. */
  readonly kind: 'matmul' | 'conv' | 'elementwise' | 'reduce' | 'data-movement' | 'none';
}

/**
 * What a gradient rule sees: a builder to emit backward nodes (ordinary ops, so the
 * training graph is planned and executed like any other), the forward node, the
 * gradient of each output (undefined: zero) and which inputs need a gradient.
 */
export interface GradContext {
  readonly b: GraphBuilder;
  readonly node: Node;
  readonly dy: readonly (string | undefined)[];
  readonly needs: readonly boolean[];
}

/** One gradient value name per input; undefined where none is needed or it is zero. */
export type GradRule<A> = (g: GradContext, a: A) => readonly (string | undefined)[];

export interface OpSpec<A> {
  readonly type: string;
  /** The file (family) it lives in, for docs and the registry walk. */
  readonly family: string;
  /** Minimum and maximum number of inputs (ONNX arity, optional inputs included). */
  readonly arity: readonly [number, number];
  /** Parses attributes with the defaults of the node's opset. */
  readonly attrs: (r: AttrReader) => A;
  readonly infer: (ctx: NodeContext, a: A) => readonly TensorType[];
  /** Host evaluation for constant folding (shape arithmetic); absent: never folded. */
  readonly fold?: (values: readonly (HostTensor | undefined)[], a: A, ctx: NodeContext) => readonly HostTensor[];
  /** Folds from input types alone (Shape): input values need not be constant. */
  readonly foldsFromTypes?: boolean;
  readonly cost: (ctx: CostContext, a: A) => OpCost;
  /** False for ops that carry no gradient (shape arithmetic, comparisons, indices). */
  readonly differentiable: boolean;
  /** Reverse-mode rule; required when differentiable (a registry test checks). */
  readonly gradient?: GradRule<A>;
  /** Factor rule for sharding; absent: the op runs replicated (every dim whole). */
  readonly sharding?: (ctx: ShardingContext, a: A) => ShardingRule;
}

/** The registry's erased form: attributes are parsed per call from the node. */
export interface Op {
  readonly type: string;
  readonly family: string;
  readonly arity: readonly [number, number];
  readonly differentiable: boolean;
  readonly canFold: boolean;
  readonly foldsFromTypes: boolean;
  parseAttrs(node: Node, opset: number): unknown;
  infer(ctx: NodeContext): readonly TensorType[];
  fold(values: readonly (HostTensor | undefined)[], ctx: NodeContext): readonly HostTensor[] | undefined;
  cost(ctx: CostContext): OpCost;
  readonly hasGradient: boolean;
  gradient(g: GradContext, opset: number): readonly (string | undefined)[];
  readonly hasShardingRule: boolean;
  shardingRule(ctx: ShardingContext): ShardingRule | undefined;
}

/** An op whose attribute type is known statically: targets (kernels, emitters) use it. */
export interface TypedOp<A> extends Op {
  attrsOf(node: Node, opset: number): A;
}

export function defineOp<A>(spec: OpSpec<A>): TypedOp<A> {
  // Parsing is cheap, but graphs of 100k nodes ask repeatedly: cache per node object.
  const cache = new WeakMap<Node, A>();
  const parse = (node: Node, opset: number): A => {
    let a = cache.get(node);
    if (a === undefined) {
      a = spec.attrs(new AttrReader(node, opset));
      cache.set(node, a);
    }
    return a;
  };
  const fold = spec.fold;
  return {
    type: spec.type,
    family: spec.family,
    arity: spec.arity,
    differentiable: spec.differentiable,
    canFold: fold !== undefined,
    foldsFromTypes: spec.foldsFromTypes ?? false,
    parseAttrs: parse,
    attrsOf: parse,
    infer: (ctx) => spec.infer(ctx, parse(ctx.node, ctx.opset)),
    fold: (values, ctx) => (fold ? fold(values, parse(ctx.node, ctx.opset), ctx) : undefined),
    cost: (ctx) => spec.cost(ctx, parse(ctx.node, ctx.opset)),
    hasGradient: spec.gradient !== undefined,
    gradient: (g, opset) => {
      if (!spec.gradient) {
        throw new AutoparError('E_UNSUPPORTED_OP', `node '${g.node.name}' (${spec.type}): no gradient rule for this op${spec.differentiable ? ' yet' : ' (it carries no gradient)'}`);
      }
      return spec.gradient(g, parse(g.node, opset));
    },
    hasShardingRule: spec.sharding !== undefined,
    shardingRule: (ctx) => (spec.sharding ? spec.sharding(ctx, parse(ctx.node, ctx.opset)) : undefined),
  };
}

export function shapeError(node: Node, message: string): AutoparError {
  return new AutoparError('E_SHAPE', `node '${node.name}' (${node.op}): ${message}`);
}
