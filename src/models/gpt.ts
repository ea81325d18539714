/**
 * A GPT-2-style decoder built directly in the IR (pre-LayerNorm blocks, fused
 * LayerNormalization and Gelu ops, causal mask through Where, untied head), the way
 * PyTorch's exporter writes it at opset 20. For planning at scale and for tests; the
 * weights are external references (graph only) or seeded random values.
 */
import { GraphBuilder } from '../ir/builder.js';
import { type HostTensor, hostTensor, numel } from '../ir/host-tensor.js';
import type { Graph, TensorType } from '../ir/types.js';

export interface GptConfig {
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly seq: number;
  readonly vocab: number;
  /** Batch dimension: a number, or a symbolic name ('batch'). */
  readonly batch: number | string;
  /** 'external': graph only, weights referenced in `${name}.weights.bin` (absent). */
  readonly weights: 'external' | { readonly seed: number };
  readonly name?: string;
}

/** GPT-3 paper shapes (Brown et al. 2020, table 2.1), sequence 2048, GPT-2 vocabulary. */
export const GPT3_SHAPES: Readonly<Record<string, Omit<GptConfig, 'batch' | 'weights'>>> = {
  '125M': { layers: 12, hidden: 768, heads: 12, seq: 2048, vocab: 50257 },
  '350M': { layers: 24, hidden: 1024, heads: 16, seq: 2048, vocab: 50257 },
  '1.3B': { layers: 24, hidden: 2048, heads: 16, seq: 2048, vocab: 50257 },
  '2.7B': { layers: 32, hidden: 2560, heads: 32, seq: 2048, vocab: 50257 },
  '6.7B': { layers: 32, hidden: 4096, heads: 32, seq: 2048, vocab: 50257 },
  '13B': { layers: 40, hidden: 5120, heads: 40, seq: 2048, vocab: 50257 },
  '39B': { layers: 48, hidden: 8192, heads: 64, seq: 2048, vocab: 50257 },
  '175B': { layers: 96, hidden: 12288, heads: 96, seq: 2048, vocab: 50257 },
};

export function gptParameterCount(c: Pick<GptConfig, 'layers' | 'hidden' | 'seq' | 'vocab'>): number {
  const h = c.hidden;
  const block = 4 * h + (h * 3 * h + 3 * h) + (h * h + h) + (h * 4 * h + 4 * h) + (4 * h * h + h);
  return c.vocab * h + c.seq * h + c.layers * block + 2 * h + h * c.vocab;
}

export function buildGpt(c: GptConfig): Graph {
  if (c.hidden % c.heads !== 0) throw new Error(`hidden ${c.hidden} is not divisible by heads ${c.heads}`);
  const name = c.name ?? `gpt_${c.layers}l_${c.hidden}h`;
  const b = GraphBuilder.empty(20, name);
  const [h, a, s, v] = [c.hidden, c.heads, c.seq, c.vocab];
  const d = h / a;
  let offset = 0;
  let seed = typeof c.weights === 'object' ? c.weights.seed >>> 0 : 0;
  const rand = (): number => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const param = (pname: string, shape: number[], init: 'normal' | 'ones' | 'zeros' = 'normal'): string => {
    const type: TensorType = { dtype: 'float32', shape };
    const n = numel(shape);
    if (c.weights === 'external') {
      const location = `${name}.weights.bin`;
      const data = { kind: 'external' as const, location, path: location, offset, length: n * 4 };
      offset += n * 4;
      return b.initializer(pname, data, type);
    }
    // GPT-2 initialisation: N(0, 0.02) weights, unit LayerNorm scales, zero biases.
    const vals = Array.from({ length: n }, () => (init === 'ones' ? 1 : init === 'zeros' ? 0 : (rand() + rand() + rand() - 1.5) * 0.04));
    const data: HostTensor = hostTensor('float32', shape, vals);
    return b.initializer(pname, data, type);
  };
  const batch = c.batch;
  const ids = b.input('input_ids', { dtype: 'int64', shape: [batch, s] });
  const wte = param('wte.weight', [v, h]);
  const wpe = param('wpe.weight', [s, h]);
  const positions = b.constant(hostTensor('int64', [s], Array.from({ length: s }, (_, i) => i)), 'positions');
  let x = b.op('Add', [b.op('Gather', [wte, ids]), b.op('Gather', [wpe, positions])], {}, 'embed');
  const mask = b.constant(causalMask(s), 'causal_mask');
  const negInf = b.scalar(-1e9);
  const scale = b.scalar(Math.sqrt(d));
  const linear = (inp: string, prefix: string, nin: number, nout: number): string =>
    b.op('Add', [b.op('MatMul', [inp, param(`${prefix}.weight`, [nin, nout])]), param(`${prefix}.bias`, [nout], 'zeros')]);
  const heads = (t: string, perm: number[]): string => b.op('Transpose', [b.op('Reshape', [t, b.ints([0, s, a, d])])], { perm });
  for (let l = 0; l < c.layers; l++) {
    const p = `blocks.${l}`;
    const ln1 = b.op('LayerNormalization', [x, param(`${p}.ln1.weight`, [h], 'ones'), param(`${p}.ln1.bias`, [h], 'zeros')], { axis: -1 });
    const qkv = linear(ln1, `${p}.qkv`, h, 3 * h);
    const [q0, k0, v0] = b.add('Split', [qkv, b.ints([h, h, h])], { axis: -1 }, { outputs: 3 }) as [string, string, string];
    const scores = b.op('Div', [b.op('MatMul', [heads(q0, [0, 2, 1, 3]), heads(k0, [0, 2, 3, 1])]), scale]);
    const probs = b.op('Softmax', [b.op('Where', [mask, scores, negInf])], { axis: -1 });
    const ctx = b.op('Reshape', [b.op('Transpose', [b.op('MatMul', [probs, heads(v0, [0, 2, 1, 3])])], { perm: [0, 2, 1, 3] }), b.ints([0, s, h])]);
    x = b.op('Add', [x, linear(ctx, `${p}.proj`, h, h)], {}, `${p}.residual1`);
    const ln2 = b.op('LayerNormalization', [x, param(`${p}.ln2.weight`, [h], 'ones'), param(`${p}.ln2.bias`, [h], 'zeros')], { axis: -1 });
    const fc = b.op('Gelu', [linear(ln2, `${p}.fc`, h, 4 * h)]);
    x = b.op('Add', [x, linear(fc, `${p}.out`, 4 * h, h)], {}, `${p}.residual2`);
  }
  const lnf = b.op('LayerNormalization', [x, param('lnf.weight', [h], 'ones'), param('lnf.bias', [h], 'zeros')], { axis: -1 });
  const logits = b.op('MatMul', [lnf, param('head.weight', [h, v])], {}, 'logits');
  return b.build([logits], name);
}

const masks = new Map<number, HostTensor>();

/**
 * The [1, 1, s, s] lower-triangular mask, one per sequence length: graphs only read their
 * constants, and the pipeline planner builds the model once per micro-batch count (at
 * s = 2048 the mask is 4M elements; building it element by element took 0.3 s a time).
 */
function causalMask(s: number): HostTensor {
  let m = masks.get(s);
  if (!m) {
    const bits = new Uint8Array(s * s);
    for (let i = 0; i < s; i++) bits.fill(1, i * s, i * s + i + 1);
    masks.set(s, (m = hostTensor('bool', [1, 1, s, s], bits)));
  }
  return m;
}
