/**
 * Communication of tensor (intra-layer) parallelism over a chain of linear layers, each
 * with its weight split by columns (output features), by rows (input features) or not
 * at all, on `degree` devices (Shoeybi et al. 2019, "Megatron-LM"). Activations are
 * [tokens, features], either replicated or split along features. Derived per layer:
 *
 *   column, input replicated: forward none (output split); backward dX = dY·Wᵀ sums
 *                             over the split output features: all-reduce of dX.
 *   row, input split:         forward Y = X·W sums over the split input features:
 *                             all-reduce of Y; backward dX split, no communication.
 *   an input in the other state is converted: split -> replicated by an all-gather
 *   (backward of a column layer: one reduce-scatter instead of its all-reduce),
 *   replicated -> split by slicing (backward: an all-gather of the split gradient).
 *
 * Ops between the linears are taken to be elementwise along features or per attention
 * head (GeLU, attention), so they keep the split. A transformer layer (attention
 * qkv column, projection row; MLP fc1 column, fc2 row) thus needs 2 all-reduces
 * forward and 2 backward of tokens × hidden elements (Narayanan et al. 2021, §3.3).
 */
import type { CollectiveKind } from './types.js';

export type LinearSplit = 'column' | 'row' | 'replicated';

export interface LinearLayer {
  readonly name: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly split: LinearSplit;
}

export interface PhaseCollective {
  readonly layer: string;
  readonly phase: 'forward' | 'backward';
  readonly kind: CollectiveKind;
  /** Elements in nccl-tests convention (all-reduce: the buffer; all-gather: the output; reduce-scatter: the input). */
  readonly elements: number;
}

type ActivationState = 'replicated' | 'split';

/** The collectives of one training step (forward and backward) of the chain, per micro-batch of `tokens` rows. */
export function tensorParallelCollectives(tokens: number, layers: readonly LinearLayer[], degree: number): PhaseCollective[] {
  if (!Number.isInteger(degree) || degree < 1) throw new RangeError(`degree must be a positive integer, got ${degree}`);
  if (degree === 1) return [];
  const out: PhaseCollective[] = [];
  const add = (layer: string, phase: PhaseCollective['phase'], kind: CollectiveKind, elements: number): void => {
    out.push({ layer, phase, kind, elements });
  };
  let state: ActivationState = 'replicated';
  for (const layer of layers) {
    const input = tokens * layer.inFeatures;
    const output = tokens * layer.outFeatures;
    switch (layer.split) {
      case 'column':
        if (state === 'replicated') {
          add(layer.name, 'backward', 'all-reduce', input);
        } else {
          // gather the split input; backward the partial dX is summed and split again in one step
          add(layer.name, 'forward', 'all-gather', input);
          add(layer.name, 'backward', 'reduce-scatter', input);
        }
        state = 'split';
        break;
      case 'row':
        add(layer.name, 'forward', 'all-reduce', output);
        // a replicated input is sliced for free, but its split gradient must be gathered
        if (state === 'replicated') add(layer.name, 'backward', 'all-gather', input);
        state = 'replicated';
        break;
      case 'replicated':
        // backward: every device has the full dX, slicing it is free
        if (state === 'split') add(layer.name, 'forward', 'all-gather', input);
        state = 'replicated';
        break;
      default: {
        const never: never = layer.split;
        return never;
      }
    }
  }
  return out;
}

/** The four linears of a transformer layer, split as in Megatron-LM. */
export function megatronTransformerLayer(hidden: number, ffnHidden = 4 * hidden): LinearLayer[] {
  return [
    { name: 'attention.qkv', inFeatures: hidden, outFeatures: 3 * hidden, split: 'column' },
    { name: 'attention.proj', inFeatures: hidden, outFeatures: hidden, split: 'row' },
    { name: 'mlp.fc1', inFeatures: hidden, outFeatures: ffnHidden, split: 'column' },
    { name: 'mlp.fc2', inFeatures: ffnHidden, outFeatures: hidden, split: 'row' },
  ];
}
