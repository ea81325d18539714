/**
 * BERT for masked language modelling (HF BertForMaskedLM's shape) as exported at opset
 * 17: bidirectional attention with the padding mask as an additive bias
 * ((1 - mask) * finfo.min), post-LayerNorm blocks with separate query/key/value, exact
 * GELU, and the MLM head tied to the word embedding. Token-type embeddings and the
 * pooler are left out: MLM does not use them.
 */
import { dimOf, gelu, layerNorm, linear, mlp, selfAttention } from './layers.js';
import type { Dim, OnnxWriter } from './onnx-writer.js';

export interface BertConfig {
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly seq: number;
  readonly vocab: number;
  readonly ffn: number;
  readonly batch: Dim;
}

const LN_EPS = 1e-12;
const FLOAT32_MIN = -3.4028234663852886e38;

export function writeBert(w: OnnxWriter, c: BertConfig): void {
  const ids = w.input('input_ids', 'int64', [c.batch, c.seq]);
  const attention = w.input('attention_mask', 'int64', [c.batch, c.seq]);
  const words = w.param('embeddings.word_embeddings.weight', [c.vocab, c.hidden], { normal: 0.02 });
  let x = w.scope('embeddings', () => {
    const positions = w.op('Unsqueeze', [w.op('Range', [w.int(0), dimOf(w, ids, 1), w.int(1)]), w.ints([0])]);
    const tok = w.scope('word_embeddings', () => w.op('Gather', [words, ids]));
    const pos = w.scope('position_embeddings', () => w.op('Gather', [w.param(w.paramName('weight'), [c.seq, c.hidden], { normal: 0.02 }), positions]));
    return layerNorm(w, w.op('Add', [tok, pos]), 'LayerNorm', c.hidden, LN_EPS);
  });
  // get_extended_attention_mask: [B, 1, 1, T], 0 where attended, finfo.min where padded.
  const extended = w.op('Cast', [w.op('Unsqueeze', [attention, w.ints([1, 2])])], { to: { int: 1 } });
  const bias = w.op('Mul', [w.op('Sub', [w.float(1), extended]), w.float(FLOAT32_MIN)]);
  for (let l = 0; l < c.layers; l++) {
    x = w.scope(`encoder.layer.${l}`, () => {
      const attn = selfAttention(w, x, { hidden: c.hidden, heads: c.heads, fusedQkv: false, mask: { add: bias } });
      const h = layerNorm(w, w.op('Add', [attn, x]), 'attention_ln', c.hidden, LN_EPS);
      return layerNorm(w, w.op('Add', [mlp(w, h, c.hidden, c.ffn), h]), 'output_ln', c.hidden, LN_EPS);
    });
  }
  const logits = w.scope('cls', () => {
    const t = layerNorm(w, gelu(w, linear(w, x, 'transform', c.hidden, c.hidden)), 'LayerNorm', c.hidden, LN_EPS);
    const mm = w.op('MatMul', [t, w.op('Transpose', [words], { perm: { ints: [1, 0] } })]);
    return w.op('Add', [w.param(w.paramName('bias'), [c.vocab], 'zeros'), mm]);
  });
  w.output(w.rename(logits, 'logits'), 'float32', [c.batch, c.seq, c.vocab]);
}

export function bertParameters(c: Pick<BertConfig, 'layers' | 'hidden' | 'seq' | 'vocab' | 'ffn'>): number {
  const h = c.hidden;
  const block = 4 * (h * h + h) + 4 * h + (h * c.ffn + c.ffn) + (c.ffn * h + h);
  return (c.vocab + c.seq) * h + 2 * h + c.layers * block + (h * h + h) + 2 * h + c.vocab;
}
