/**
 * Optimizers as graph fragments: their states (moments, step count) are initializers
 * of the training graph, so their memory and sharding are visible to the planner
 * (ZeRO is sharding them). Update rules follow PyTorch's torch.optim.
 */
import type { GraphBuilder } from '../ir/builder.js';
import type { TensorType } from '../ir/types.js';

export type OptimizerConfig =
  | { readonly kind: 'sgd'; readonly lr: number; readonly momentum?: number; readonly weightDecay?: number }
  | { readonly kind: 'adam' | 'adamw'; readonly lr: number; readonly beta1?: number; readonly beta2?: number; readonly eps?: number; readonly weightDecay?: number };

export interface OptimizerResult {
  /** Parameter -> its updated value. */
  readonly updates: ReadonlyMap<string, string>;
  /** Optimizer state initializer -> its updated value. */
  readonly states: ReadonlyMap<string, string>;
  /** Per-parameter state initializer -> its parameter (the step count has none). */
  readonly stateOf: ReadonlyMap<string, string>;
}

/** Bytes of optimizer state per parameter element, by dtype size (for reports). */
export function stateCopies(cfg: OptimizerConfig): number {
  switch (cfg.kind) {
    case 'sgd':
      return cfg.momentum ? 1 : 0;
    case 'adam':
    case 'adamw':
      return 2;
  }
}

function zerosState(b: GraphBuilder, name: string, type: TensorType): string {
  return b.initializer(b.fresh(name), { kind: 'zeros' }, type);
}

export function applyOptimizer(b: GraphBuilder, cfg: OptimizerConfig, grads: ReadonlyMap<string, string>): OptimizerResult {
  const updates = new Map<string, string>();
  const states = new Map<string, string>();
  const stateOf = new Map<string, string>();
  const s = (v: number): string => b.scalar(v);
  switch (cfg.kind) {
    case 'sgd': {
      const mu = cfg.momentum ?? 0;
      for (const [p, g0] of grads) {
        let g = cfg.weightDecay ? b.op('Add', [g0, b.op('Mul', [p, s(cfg.weightDecay)])]) : g0;
        if (mu !== 0) {
          // PyTorch: buf = mu·buf + g (dampening 0); p -= lr·buf.
          const buf = zerosState(b, `${p}.momentum`, b.type(p));
          const next = b.op('Add', [b.op('Mul', [buf, s(mu)]), g], {}, `${p}.momentum_next`);
          states.set(buf, next);
          stateOf.set(buf, p);
          g = next;
        }
        updates.set(p, b.op('Sub', [p, b.op('Mul', [g, s(cfg.lr)])], {}, `${p}.next`));
      }
      break;
    }
    case 'adam':
    case 'adamw': {
      const [b1, b2, eps, wd] = [cfg.beta1 ?? 0.9, cfg.beta2 ?? 0.999, cfg.eps ?? 1e-8, cfg.weightDecay ?? (cfg.kind === 'adamw' ? 0.01 : 0)];
      const step = zerosState(b, 'optimizer.step', { dtype: 'float32', shape: [] });
      const t = b.op('Add', [step, s(1)], {}, 'optimizer.step_next');
      states.set(step, t);
      // Bias corrections 1 - beta^t, shared by every parameter.
      const bc1 = b.op('Sub', [s(1), b.op('Pow', [s(b1), t])], {}, 'adam_bc1');
      const bc2 = b.op('Sub', [s(1), b.op('Pow', [s(b2), t])], {}, 'adam_bc2');
      const stepSize = b.op('Div', [s(cfg.lr), bc1], {}, 'adam_step_size');
      const sqrtBc2 = b.op('Sqrt', [bc2]);
      for (const [p, g0] of grads) {
        // Adam's L2 penalty joins the gradient; AdamW decays the weight directly.
        const g = cfg.kind === 'adam' && wd ? b.op('Add', [g0, b.op('Mul', [p, s(wd)])]) : g0;
        const m = zerosState(b, `${p}.adam_m`, b.type(p));
        const v = zerosState(b, `${p}.adam_v`, b.type(p));
        const m1 = b.op('Add', [b.op('Mul', [m, s(b1)]), b.op('Mul', [g, s(1 - b1)])], {}, `${p}.adam_m_next`);
        const v1 = b.op('Add', [b.op('Mul', [v, s(b2)]), b.op('Mul', [b.op('Mul', [g, g]), s(1 - b2)])], {}, `${p}.adam_v_next`);
        states.set(m, m1);
        states.set(v, v1);
        stateOf.set(m, p);
        stateOf.set(v, p);
        // PyTorch: p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps)
        const denom = b.op('Add', [b.op('Div', [b.op('Sqrt', [v1]), sqrtBc2]), s(eps)]);
        let base = p;
        if (cfg.kind === 'adamw' && wd) base = b.op('Mul', [p, b.op('Sub', [s(1), b.op('Mul', [s(cfg.lr), s(wd)])])]);
        updates.set(p, b.op('Sub', [base, b.op('Mul', [stepSize, b.op('Div', [m1, denom])])], {}, `${p}.next`));
      }
      break;
    }
  }
  return { updates, states, stateOf };
}
