/** Contractions: MatMul (numpy semantics), Gemm, Einsum. */
import { AutoparError } from '../errors.js';
import { numel } from '../ir/host-tensor.js';
import type { Dim } from '../ir/types.js';
import type { GraphBuilder } from '../ir/builder.js';
import { reshape, sumToShape } from './grad-util.js';
import { defineOp, shapeError, type NodeContext, type Op } from './op.js';
import { RuleBuilder } from './sharding-rule.js';
import { broadcastShapes, fmtShape, input, ioBytes } from './util.js';

const FAMILY = 'matmul';

function matmulShape(ctx: NodeContext, a: readonly Dim[], b: readonly Dim[]): Dim[] {
  if (a.length === 0 || b.length === 0) throw shapeError(ctx.node, 'MatMul inputs must have rank >= 1');
  const a2 = a.length === 1 ? [1, a[0] as Dim] : a;
  const b2 = b.length === 1 ? [b[0] as Dim, 1] : b;
  const k1 = a2[a2.length - 1] as Dim;
  const k2 = b2[b2.length - 2] as Dim;
  if (k1 !== k2) {
    throw shapeError(ctx.node, `cannot multiply ${fmtShape(a)} by ${fmtShape(b)}: inner dimensions ${k1} and ${k2} differ`);
  }
  const batch = broadcastShapes(ctx, [a2.slice(0, -2), b2.slice(0, -2)]);
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2] as Dim);
  if (b.length > 1) out.push(b2[b2.length - 1] as Dim);
  return out;
}

/** Swaps the last two axes. */
function transposeLast(b: GraphBuilder, x: string): string {
  const r = b.shape(x).length;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 1] = r - 2;
  perm[r - 2] = r - 1;
  return b.op('Transpose', [x], { perm });
}

export const MatMul = defineOp<null>({
  type: 'MatMul',
  family: FAMILY,
  arity: [2, 2],
  differentiable: true,
  attrs: () => null,
  infer: (ctx) => {
    const [a, b] = [input(ctx, 0), input(ctx, 1)];
    if (a.dtype !== b.dtype) throw shapeError(ctx.node, `input dtypes differ (${a.dtype}, ${b.dtype})`);
    return [{ dtype: a.dtype, shape: matmulShape(ctx, a.shape, b.shape) }];
  },
  cost: (ctx) => {
    const a = ctx.inputs[0];
    const out = ctx.outputs[0];
    const k = a ? (a.shape[a.shape.length - 1] ?? 1) : 1;
    return { flops: 2 * k * (out ? numel(out.shape) : 0), bytes: ioBytes(ctx), kind: 'matmul' };
  },
  // Batch dims parallel (broadcast ones whole), m and n parallel, k contracted.
  sharding: (ctx) => {
    const [a, b] = [ctx.inputs[0], ctx.inputs[1]];
    const out = ctx.outputs[0];
    const rb = new RuleBuilder();
    if (!a || !b || !out) return rb.build([], []);
    // Batch dims align to the right of the output's batch dims (numpy broadcasting).
    const nb = out.shape.length - (a.shape.length > 1 ? 1 : 0) - (b.shape.length > 1 ? 1 : 0);
    const batch = (r: number): string[] => Array.from({ length: Math.max(0, r - 2) }, (_, i) => `b${i + nb - (r - 2)}`);
    const aDims: string[] = a.shape.length === 1 ? ['k'] : [...batch(a.shape.length), 'm', 'k'];
    const bDims: string[] = b.shape.length === 1 ? ['k'] : [...batch(b.shape.length), 'k', 'n'];
    const outDims: string[] = Array.from({ length: nb }, (_, i) => `b${i}`);
    if (a.shape.length > 1) outDims.push('m');
    if (b.shape.length > 1) outDims.push('n');
    out.shape.forEach((d, i) => rb.factor(outDims[i] ?? '', d));
    rb.factor('k', a.shape[a.shape.length - 1] ?? 1, 'contract');
    // A batch dim of size 1 against a larger one is broadcast: it stays whole.
    const whole = (dims: string[], shape: readonly number[]): string[] => dims.map((f, i) => (f.startsWith('b') && shape[i] === 1 && (out.shape[Number(f.slice(1))] ?? 1) > 1 ? '' : f));
    return rb.build([whole(aDims, a.shape), whole(bDims, b.shape)], [outDims]);
  },
  // dA = dY·Bᵀ, dB = Aᵀ·dY, summed over broadcast batch axes; 1-D operands as matrices.
  gradient: (g) => {
    const { b } = g;
    const [a0, b0] = g.node.inputs;
    const dy0 = g.dy[0];
    if (!a0 || !b0 || !dy0) return [undefined, undefined];
    const aShape = b.shape(a0);
    const bShape = b.shape(b0);
    const A = aShape.length === 1 ? reshape(b, a0, [1, aShape[0] ?? 1]) : a0;
    const B = bShape.length === 1 ? reshape(b, b0, [bShape[0] ?? 1, 1]) : b0;
    let dyShape = b.shape(dy0);
    if (aShape.length === 1) dyShape = [...dyShape.slice(0, dyShape.length - (bShape.length === 1 ? 0 : 1)), 1, ...(bShape.length === 1 ? [] : dyShape.slice(-1))];
    if (bShape.length === 1) dyShape = [...dyShape, 1];
    const dy = reshape(b, dy0, dyShape);
    const da = g.needs[0] ? sumToShape(b, b.op('MatMul', [dy, transposeLast(b, B)]), b.shape(A)) : undefined;
    const db = g.needs[1] ? sumToShape(b, b.op('MatMul', [transposeLast(b, A), dy]), b.shape(B)) : undefined;
    return [da ? reshape(b, da, aShape) : undefined, db ? reshape(b, db, bShape) : undefined];
  },
});

export interface GemmAttrs {
  readonly alpha: number;
  readonly beta: number;
  readonly transA: boolean;
  readonly transB: boolean;
}

export const Gemm = defineOp<GemmAttrs>({
  type: 'Gemm',
  family: FAMILY,
  arity: [2, 3],
  differentiable: true,
  attrs: (r) => ({
    alpha: r.float('alpha', 1),
    beta: r.float('beta', 1),
    transA: r.int('transA', 0) !== 0,
    transB: r.int('transB', 0) !== 0,
  }),
  infer: (ctx, g) => {
    const [a, b] = [input(ctx, 0), input(ctx, 1)];
    if (a.shape.length !== 2 || b.shape.length !== 2) {
      throw shapeError(ctx.node, `Gemm needs 2-D inputs, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
    }
    const [m, ka] = g.transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const [kb, n] = g.transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
    if (ka !== kb) {
      throw shapeError(ctx.node, `cannot multiply ${fmtShape(a.shape)}${g.transA ? 'ᵀ' : ''} by ${fmtShape(b.shape)}${g.transB ? 'ᵀ' : ''}: inner dimensions ${ka} and ${kb} differ`);
    }
    const out: Dim[] = [m as Dim, n as Dim];
    const c = ctx.inputs[2];
    if (c) broadcastShapes(ctx, [out, c.shape]);
    return [{ dtype: a.dtype, shape: out }];
  },
  cost: (ctx, g) => {
    const a = ctx.inputs[0];
    const out = ctx.outputs[0];
    const k = a ? (g.transA ? a.shape[0] : a.shape[1]) ?? 1 : 1;
    const mn = out ? numel(out.shape) : 0;
    return { flops: 2 * k * mn + (ctx.inputs[2] ? mn : 0), bytes: ioBytes(ctx), kind: 'matmul' };
  },
  sharding: (ctx, a) => {
    const rb = new RuleBuilder();
    const out = ctx.outputs[0];
    const A = ctx.inputs[0];
    if (!out || !A) return rb.build([], []);
    rb.factor('m', out.shape[0] ?? 1);
    rb.factor('n', out.shape[1] ?? 1);
    rb.factor('k', (a.transA ? A.shape[0] : A.shape[1]) ?? 1, 'contract');
    const c = ctx.inputs[2];
    const cDims = c ? c.shape.map((d, i) => (d === 1 ? '' : (['m', 'n'].slice(2 - c.shape.length)[i] ?? ''))) : [];
    return rb.buildWithBias([a.transA ? ['k', 'm'] : ['m', 'k'], a.transB ? ['n', 'k'] : ['k', 'n'], cDims], [['m', 'n']], [2]);
  },
  // With G = alpha·dY, each case is one Gemm with transpose flags (no explicit Transpose).
  gradient: (g, a) => {
    const { b } = g;
    const [A, B, C] = g.node.inputs;
    const dy = g.dy[0];
    if (!A || !B || !dy) return [undefined, undefined, undefined];
    const gemm = (x: string, y: string, tA: boolean, tB: boolean): string => b.op('Gemm', [x, y], { alpha: { float: a.alpha }, transA: tA ? 1 : 0, transB: tB ? 1 : 0 });
    let dA: string | undefined;
    let dB: string | undefined;
    if (!a.transA && !a.transB) {
      dA = g.needs[0] ? gemm(dy, B, false, true) : undefined;
      dB = g.needs[1] ? gemm(A, dy, true, false) : undefined;
    } else if (!a.transA && a.transB) {
      dA = g.needs[0] ? gemm(dy, B, false, false) : undefined;
      dB = g.needs[1] ? gemm(dy, A, true, false) : undefined;
    } else if (a.transA && !a.transB) {
      dA = g.needs[0] ? gemm(B, dy, false, true) : undefined;
      dB = g.needs[1] ? gemm(A, dy, false, false) : undefined;
    } else {
      dA = g.needs[0] ? gemm(B, dy, true, true) : undefined;
      dB = g.needs[1] ? gemm(dy, A, true, true) : undefined;
    }
    const dC = C && g.needs[2] ? sumToShape(b, a.beta === 1 ? dy : b.op('Mul', [dy, b.scalar(a.beta)]), b.shape(C)) : undefined;
    return [dA, dB, dC];
  },
});

export interface EinsumAttrs {
  readonly inputs: readonly string[];
  readonly output: string;
}

/** Parses an explicit or implicit einsum equation (no ellipsis). */
export function parseEquation(eq: string, nodeName: string): EinsumAttrs {
  const clean = eq.replace(/\s+/g, '');
  if (clean.includes('.')) {
    throw new AutoparError('E_UNSUPPORTED_OP', `node '${nodeName}' (Einsum): ellipsis in '${eq}' is not supported`);
  }
  const [lhs, rhs] = clean.split('->');
  const inputs = (lhs ?? '').split(',');
  if (inputs.some((s) => !/^[a-zA-Z]*$/.test(s))) {
    throw new AutoparError('E_GRAPH', `node '${nodeName}' (Einsum): malformed equation '${eq}'`);
  }
  let output = rhs;
  if (output === undefined) {
    // Implicit mode: letters that appear once, in alphabetical order.
    const counts = new Map<string, number>();
    for (const s of inputs) for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
    output = [...counts].filter(([, n]) => n === 1).map(([c]) => c).sort().join('');
  }
  return { inputs, output };
}

function einsumSizes(ctx: NodeContext, e: EinsumAttrs): Map<string, Dim> {
  const sizes = new Map<string, Dim>();
  e.inputs.forEach((sub, i) => {
    const t = input(ctx, i);
    if (t.shape.length !== sub.length) {
      throw shapeError(ctx.node, `operand ${i} has rank ${t.shape.length} but subscript '${sub}' has ${sub.length} letters`);
    }
    [...sub].forEach((c, k) => {
      const d = t.shape[k] as Dim;
      const prev = sizes.get(c);
      if (prev === undefined || prev === 1) sizes.set(c, d);
      else if (d !== 1 && d !== prev) throw shapeError(ctx.node, `letter '${c}' has sizes ${prev} and ${d}`);
    });
  });
  return sizes;
}

export const Einsum = defineOp<EinsumAttrs>({
  type: 'Einsum',
  family: FAMILY,
  arity: [1, 2147483647],
  differentiable: true,
  attrs: (r) => parseEquation(r.requiredString('equation'), r.node.name),
  infer: (ctx, e) => {
    if (e.inputs.length !== ctx.inputs.length) {
      throw shapeError(ctx.node, `equation has ${e.inputs.length} operands but the node has ${ctx.inputs.length} inputs`);
    }
    // A letter twice in one operand takes a diagonal; the tfjs lowering has no such step.
    const diagonal = e.inputs.find((sub) => new Set(sub).size !== sub.length);
    if (diagonal !== undefined) {
      throw new AutoparError('E_UNSUPPORTED_OP', `node '${ctx.node.name}' (Einsum): operand '${diagonal}' repeats a letter (a diagonal), which is not supported`);
    }
    if (new Set(e.output).size !== e.output.length) throw shapeError(ctx.node, `output subscript '${e.output}' repeats a letter`);
    const sizes = einsumSizes(ctx, e);
    const shape = [...e.output].map((c) => {
      const d = sizes.get(c);
      if (d === undefined) throw shapeError(ctx.node, `output letter '${c}' appears in no input`);
      return d;
    });
    return [{ dtype: input(ctx, 0).dtype, shape }];
  },
  cost: (ctx, e) => {
    // One multiply-add per point of the full index space (all letters).
    let space = 1;
    const seen = new Map<string, number>();
    e.inputs.forEach((sub, i) => [...sub].forEach((c, k) => seen.set(c, Math.max(seen.get(c) ?? 1, ctx.inputs[i]?.shape[k] ?? 1))));
    for (const v of seen.values()) space *= v;
    return { flops: 2 * space, bytes: ioBytes(ctx), kind: 'matmul' };
  },
  // Letters of the output are parallel factors, the others contracted.
  sharding: (ctx, e) => {
    const rb = new RuleBuilder();
    e.inputs.forEach((sub, i) => [...sub].forEach((c, k) => rb.factor(c, ctx.inputs[i]?.shape[k] ?? 1, e.output.includes(c) ? 'parallel' : 'contract')));
    return rb.build(
      e.inputs.map((sub, i) => [...sub].map((c, k) => ((ctx.inputs[i]?.shape[k] ?? 1) === 1 ? '' : c))),
      [[...e.output]],
    );
  },
  // Two operands: d(op_i) = einsum(dY, other -> op_i), when every letter of op_i survives.
  gradient: (g, e) => {
    if (e.inputs.length !== 2) throw new AutoparError('E_UNSUPPORTED_OP', `node '${g.node.name}' (Einsum): gradients need exactly two operands`);
    const dy = g.dy[0];
    if (!dy) return [undefined, undefined];
    return [0, 1].map((i) => {
      const mine = e.inputs[i] ?? '';
      const other = e.inputs[1 - i] ?? '';
      const x = g.node.inputs[i];
      const o = g.node.inputs[1 - i];
      if (!g.needs[i] || !x || !o) return undefined;
      if ([...mine].some((c) => !e.output.includes(c) && !other.includes(c))) {
        throw new AutoparError('E_UNSUPPORTED_OP', `node '${g.node.name}' (Einsum): operand '${mine}' sums a letter alone; its gradient is not supported`);
      }
      return g.b.op('Einsum', [dy, o], { equation: `${e.output},${other}->${mine}` });
    });
  },
});

export const matmulOps: readonly Op[] = [MatMul, Gemm, Einsum];
