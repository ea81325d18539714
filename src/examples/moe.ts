/**
 * A GPT whose feed-forward block is, every `every`-th layer, a mixture of experts with
 * top-k gating, written the way a GShard-style PyTorch MoE exports: dense dispatch and
 * combine through one-hot tensors and einsums (no TopK, CumSum or scatter: only ops the
 * planner can shard, the expert axis `e` included). Per sequence of T tokens:
 *
 *   probs    = softmax(x Wg)                       [B, T, E]
 *   chosen   = top-k of probs (k rounds of ReduceMax + Equal)
 *   position = tril(1) @ chosen                    (cumsum over tokens, 1-based)
 *   kept     = chosen and position <= C           (capacity C = ceil(k cf T / E))
 *   dispatch = one_hot(position - 1, C) * kept     [B, T, E, C]
 *   combine  = dispatch * renormalised gates
 *   y        = einsum(combine, FFN_e(einsum(dispatch, x)))
 *
 * Unlike torch.topk, exactly tied probabilities are all chosen (random gate weights make
 * ties vanishingly rare); capacity is assigned in token order, not first choices first.
 */
import { gelu, linear } from './layers.js';
import type { OnnxWriter } from './onnx-writer.js';
import { type BlockContext, type GptConfig, gptParameters, writeGpt } from './gpt.js';

export interface MoeConfig extends GptConfig {
  readonly experts: number;
  readonly topK: number;
  readonly capacityFactor: number;
  /** Every how many layers the MLP is a mixture (2: layers 1, 3, 5, ...). */
  readonly every: number;
}

export function moeCapacity(c: Pick<MoeConfig, 'experts' | 'topK' | 'capacityFactor' | 'seq'>): number {
  return Math.min(c.seq, Math.ceil((c.topK * c.capacityFactor * c.seq) / c.experts));
}

export function isMoeLayer(c: Pick<MoeConfig, 'every'>, layer: number): boolean {
  return layer % c.every === c.every - 1;
}

function moeFfn(w: OnnxWriter, x: string, c: MoeConfig, ctx: BlockContext): string {
  const { experts: e, hidden: h, ffn: f } = c;
  const cap = moeCapacity(c);
  const float = { to: { int: 1 } };
  return w.scope('moe', () => {
    const probs = w.op('Softmax', [linear(w, x, 'gate', h, e, false)], { axis: { int: -1 } });
    let remaining = probs;
    let chosen: string | undefined;
    for (let i = 0; i < c.topK; i++) {
      const hit = w.op('Equal', [remaining, w.op('ReduceMax', [remaining], { axes: { ints: [-1] }, keepdims: { int: 1 } })]);
      chosen = chosen === undefined ? hit : w.op('Or', [chosen, hit]);
      // Probabilities are >= 0: -1 takes a chosen expert out of the next round.
      remaining = w.op('Where', [hit, w.float(-1), remaining]);
    }
    const mask = w.op('Cast', [chosen ?? ''], float);
    // Lower-triangular ones (s <= t) times the mask: a cumulative sum over tokens.
    const lower = w.op('Cast', [w.op('Not', [ctx.future])], float);
    const position = w.op('MatMul', [lower, mask]);
    const kept = w.op('Mul', [mask, w.op('Cast', [w.op('LessOrEqual', [position, w.float(cap)])], float)]);
    const slot = w.op('Unsqueeze', [w.op('Sub', [position, w.float(1)]), w.ints([3])]);
    const oneHot = w.op('Cast', [w.op('Equal', [slot, w.floats(Array.from({ length: cap }, (_, i) => i))])], float);
    const dispatch = w.op('Mul', [oneHot, w.op('Unsqueeze', [kept, w.ints([3])])]);
    const gates = w.op('Mul', [probs, kept]);
    const norm = w.op('Div', [gates, w.op('Add', [w.op('ReduceSum', [gates, w.ints([-1])], { keepdims: { int: 1 } }), w.float(1e-9)])]);
    const combine = w.op('Mul', [dispatch, w.op('Unsqueeze', [norm, w.ints([3])])]);
    const xin = w.op('Einsum', [dispatch, x], { equation: { string: 'btec,bth->ebch' } });
    const expertsOut = w.scope('experts', () => {
      const bias = (name: string, n: number): string => w.op('Unsqueeze', [w.param(w.paramName(name), [e, n], 'zeros'), w.ints([1, 2])]);
      const w1 = w.param(w.paramName('fc.weight'), [e, h, f], { normal: 0.02 });
      const h1 = gelu(w, w.op('Add', [w.op('Einsum', [xin, w1], { equation: { string: 'ebch,ehf->ebcf' } }), bias('fc.bias', f)]));
      const w2 = w.param(w.paramName('out.weight'), [e, f, h], { normal: 0.02 });
      return w.op('Add', [w.op('Einsum', [h1, w2], { equation: { string: 'ebcf,efh->ebch' } }), bias('out.bias', h)]);
    });
    return w.op('Einsum', [combine, expertsOut], { equation: { string: 'btec,ebch->bth' } });
  });
}

export function writeMoe(w: OnnxWriter, c: MoeConfig): void {
  writeGpt(w, c, (wr, x, ctx) => (isMoeLayer(c, ctx.layer) ? moeFfn(wr, x, c, ctx) : undefined));
}

export function moeParameters(c: MoeConfig): number {
  const h = c.hidden;
  const dense = (h * c.ffn + c.ffn) + (c.ffn * h + h);
  const moeLayers = Array.from({ length: c.layers }, (_, l) => l).filter((l) => isMoeLayer(c, l)).length;
  return gptParameters(c) + moeLayers * (c.experts * dense + h * c.experts - dense);
}
