/**
 * The torch.nn modules the example models are made of, each emitted as the node pattern
 * torch.onnx.export (opset 17) gives it: Linear as MatMul + Add with the weight stored
 * transposed ([in, out]), LayerNorm as LayerNormalization, exact GELU through Erf, and
 * shape arithmetic (Shape, Gather, Unsqueeze, Concat) for the reshapes of attention, so
 * the batch dimension stays symbolic.
 */
import type { OnnxWriter } from './onnx-writer.js';

/** GPT-2's initialisation: N(0, 0.02) for weights. */
export const STD = 0.02;

/** nn.Linear(nin, nout) on the last axis, as module `name` (parameters `<scope>.name.weight`). */
export function linear(w: OnnxWriter, x: string, name: string, nin: number, nout: number, bias = true, std = STD): string {
  return w.scope(name, () => {
    const mm = w.op('MatMul', [x, w.param(w.paramName('weight'), [nin, nout], { normal: std })]);
    // The exporter writes the bias first: Add(bias, MatMul).
    return bias ? w.op('Add', [w.param(w.paramName('bias'), [nout], 'zeros'), mm]) : mm;
  });
}

export function layerNorm(w: OnnxWriter, x: string, name: string, size: number, epsilon: number): string {
  return w.scope(name, () =>
    w.op('LayerNormalization', [x, w.param(w.paramName('weight'), [size], 'ones'), w.param(w.paramName('bias'), [size], 'zeros')], {
      axis: { int: -1 },
      epsilon: { float: epsilon },
    }),
  );
}

/** nn.GELU() (exact): x * (1 + erf(x / sqrt(2))) * 0.5, as the exporter decomposes it before opset 20. */
export function gelu(w: OnnxWriter, x: string): string {
  const e = w.op('Erf', [w.op('Div', [x, w.float(Math.SQRT2)])]);
  return w.op('Mul', [w.op('Mul', [x, w.op('Add', [e, w.float(1)])]), w.float(0.5)]);
}

/** x.size(axis) as an int64 scalar: Shape, then Gather of the axis. */
export function dimOf(w: OnnxWriter, x: string, axis: number): string {
  return w.op('Gather', [w.op('Shape', [x]), w.int(axis)], { axis: { int: 0 } });
}

/** A shape vector from size() scalars and fixed sizes, as `x.view(b, t, a, d)` exports. */
export function shapeOf(w: OnnxWriter, parts: readonly (string | number)[]): string {
  const pieces = parts.map((p) => (typeof p === 'number' ? w.ints([p]) : w.op('Unsqueeze', [p, w.ints([0])])));
  return w.op('Concat', pieces, { axis: { int: 0 } });
}

export interface AttentionSpec {
  readonly hidden: number;
  readonly heads: number;
  /** GPT-2's fused c_attn (one [h, 3h] projection) or BERT's separate query/key/value. */
  readonly fusedQkv: boolean;
  /** Added to the scores (BERT's extended attention mask), or a bool mask of positions to hide (causal). */
  readonly mask: { readonly add: string } | { readonly hide: string };
}

/** Multi-head self-attention on x: [B, T, H] (module `attn`); sizes read from x's shape. */
export function selfAttention(w: OnnxWriter, x: string, s: AttentionSpec): string {
  const { hidden: h, heads: a } = s;
  const d = h / a;
  return w.scope('attn', () => {
    const b = dimOf(w, x, 0);
    const t = dimOf(w, x, 1);
    let q: string;
    let k: string;
    let v: string;
    if (s.fusedQkv) {
      const qkv = linear(w, x, 'qkv', h, 3 * h);
      const parts = w.node('Split', [qkv, w.ints([h, h, h])], { axis: { int: 2 } }, 3);
      [q, k, v] = [parts[0] ?? '', parts[1] ?? '', parts[2] ?? ''];
    } else {
      [q, k, v] = [linear(w, x, 'query', h, h), linear(w, x, 'key', h, h), linear(w, x, 'value', h, h)];
    }
    const heads = (y: string, perm: number[]): string =>
      w.op('Transpose', [w.op('Reshape', [y, shapeOf(w, [b, t, a, d])], { allowzero: { int: 0 } })], { perm: { ints: perm } });
    const scores = w.op('Div', [w.op('MatMul', [heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])]), w.float(Math.sqrt(d))]);
    const masked = 'add' in s.mask ? w.op('Add', [scores, s.mask.add]) : w.op('Where', [s.mask.hide, w.float(-Infinity), scores]);
    const probs = w.op('Softmax', [masked], { axis: { int: -1 } });
    const ctx = w.op('Transpose', [w.op('MatMul', [probs, heads(v, [0, 2, 1, 3])])], { perm: { ints: [0, 2, 1, 3] } });
    const merged = w.op('Reshape', [ctx, shapeOf(w, [b, t, h])], { allowzero: { int: 0 } });
    return linear(w, merged, 'proj', h, h);
  });
}

/** The feed-forward block: Linear(h, f), GELU, Linear(f, h) (module `mlp`). */
export function mlp(w: OnnxWriter, x: string, hidden: number, ffn: number): string {
  return w.scope('mlp', () => linear(w, gelu(w, linear(w, x, 'fc', hidden, ffn)), 'out', ffn, hidden));
}
