/**
 * GPT (GPT-2/GPT-3 architecture) as torch.onnx.export writes it at opset 17: token and
 * position embeddings by Gather, pre-LayerNorm blocks with fused QKV, a causal mask
 * computed from the sequence length (Range, Greater) and applied with Where, exact
 * GELU, a final LayerNorm and a head tied to the token embedding (MatMul by its
 * Transpose, so the embedding is one parameter, as in the GPT-3 paper's counts).
 */
import { dimOf, layerNorm, mlp, selfAttention } from './layers.js';
import type { Dim, OnnxWriter } from './onnx-writer.js';

export interface GptConfig {
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly seq: number;
  readonly vocab: number;
  /** Feed-forward width (4 x hidden in GPT-2/3). */
  readonly ffn: number;
  /** A fixed batch size, or the name of a symbolic dimension (dynamic_axes). */
  readonly batch: Dim;
}

/** What a feed-forward hook sees: the block's input and the shared masks. */
export interface BlockContext {
  readonly layer: number;
  /** bool [T, T]: true where column > row (future positions). */
  readonly future: string;
}

/** Replaces a block's dense MLP (MoE); undefined keeps the dense one. */
export type FfnHook = (w: OnnxWriter, x: string, ctx: BlockContext) => string | undefined;

const LN_EPS = 1e-5;

export function writeGpt(w: OnnxWriter, c: GptConfig, ffnHook?: FfnHook): void {
  const ids = w.input('input_ids', 'int64', [c.batch, c.seq]);
  const t = dimOf(w, ids, 1);
  const positions = w.op('Range', [w.int(0), t, w.int(1)]);
  const wte = w.param('wte.weight', [c.vocab, c.hidden], { normal: 0.02 });
  const tok = w.scope('wte', () => w.op('Gather', [wte, ids]));
  const pos = w.scope('wpe', () => w.op('Gather', [w.param('wpe.weight', [c.seq, c.hidden], { normal: 0.01 }), w.op('Unsqueeze', [positions, w.ints([0])])]));
  let x = w.op('Add', [tok, pos]);
  for (let l = 0; l < c.layers; l++) {
    x = w.scope(`blocks.${l}`, () => {
      const future = causalMask(w, x);
      const attn = selfAttention(w, layerNorm(w, x, 'ln1', c.hidden, LN_EPS), { hidden: c.hidden, heads: c.heads, fusedQkv: true, mask: { hide: future } });
      const h = w.op('Add', [x, attn]);
      const normed = layerNorm(w, h, 'ln2', c.hidden, LN_EPS);
      const ff = ffnHook?.(w, normed, { layer: l, future }) ?? mlp(w, normed, c.hidden, c.ffn);
      return w.op('Add', [h, ff]);
    });
  }
  const final = layerNorm(w, x, 'ln_f', c.hidden, LN_EPS);
  const logits = w.scope('lm_head', () => w.op('MatMul', [final, w.op('Transpose', [wte], { perm: { ints: [1, 0] } })]));
  w.output(w.rename(logits, 'logits'), 'float32', [c.batch, c.seq, c.vocab]);
}

/**
 * torch.arange(t)[None, :] > torch.arange(t)[:, None]: the positions a query may not see.
 * Each block computes its own (as GPT-2's per-block `bias` buffer), so that only the
 * residual stream crosses from block to block and the blocks repeat exactly.
 */
function causalMask(w: OnnxWriter, x: string): string {
  const positions = w.op('Range', [w.int(0), dimOf(w, x, 1), w.int(1)]);
  return w.op('Greater', [w.op('Unsqueeze', [positions, w.ints([0])]), w.op('Unsqueeze', [positions, w.ints([1])])]);
}

/** Parameters of writeGpt's dense model: 12 L h^2 + 13 L h + (V + S) h + 2 h with f = 4h. */
export function gptParameters(c: Pick<GptConfig, 'layers' | 'hidden' | 'seq' | 'vocab' | 'ffn'>): number {
  const h = c.hidden;
  const block = 4 * h + (3 * h * h + 3 * h) + (h * h + h) + (h * c.ffn + c.ffn) + (c.ffn * h + h);
  return (c.vocab + c.seq) * h + c.layers * block + 2 * h;
}
