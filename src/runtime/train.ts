/**
 * Training steps on one device with the reference executor. With several micro-batches
 * the gradients of each are accumulated (averaged, since each loss is a mean over
 * equal-sized micro-batches) before one optimizer update.
 */
import { AutoparError } from '../errors.js';
import { type HostTensor, hostTensor } from '../ir/host-tensor.js';
import type { Graph } from '../ir/types.js';
import { extractSubgraph } from '../../passes/extract.js';
import type { TrainingGraph } from '../training/build.js';
import { execute } from './executor.js';
import { loadWeights } from './weights.js';

export interface StepResult {
  readonly loss: number;
  /** Model outputs of the last micro-batch. */
  readonly outputs: ReadonlyMap<string, HostTensor>;
  /** Parameter -> accumulated gradient. */
  readonly grads: ReadonlyMap<string, HostTensor>;
  /** Parameters and optimizer states after the update (unchanged without an optimizer). */
  readonly state: ReadonlyMap<string, HostTensor>;
}

export interface Trainer {
  readonly tg: TrainingGraph;
  step(microbatches: readonly ReadonlyMap<string, HostTensor>[]): Promise<StepResult>;
  readonly state: ReadonlyMap<string, HostTensor>;
}

function addInto(acc: Float32Array | Float64Array, x: HostTensor, scale: number): void {
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] ?? 0) + (x.data[i] ?? 0) * scale;
}

/** A stateful trainer: parameters and optimizer states persist between steps. */
export function createTrainer(tg: TrainingGraph, initial?: ReadonlyMap<string, HostTensor>): Trainer {
  let state = loadWeights(tg.graph, initial);
  const gradNames = [...tg.grads.values()];
  const gradGraph: Graph = extractSubgraph(tg.graph, [tg.loss, ...tg.forward.outputs, ...gradNames]);
  const hasUpdate = tg.updates.size > 0;
  const updateGraph: Graph | undefined = hasUpdate
    ? extractSubgraph(tg.graph, [...tg.updates.values(), ...tg.states.values()], gradNames)
    : undefined;

  return {
    tg,
    get state() {
      return state;
    },
    async step(microbatches) {
      if (microbatches.length === 0) throw new AutoparError('E_USAGE', 'a training step needs at least one micro-batch');
      const m = microbatches.length;
      let lossSum = 0;
      let outputs: ReadonlyMap<string, HostTensor> = new Map();
      const acc = new Map<string, HostTensor>();
      for (const feeds of microbatches) {
        const r = await execute(gradGraph, feeds, { weights: state });
        lossSum += r.outputs.get(tg.loss)?.data[0] ?? NaN;
        outputs = new Map(tg.forward.outputs.map((o) => [o, r.outputs.get(o) as HostTensor]));
        for (const [p, gname] of tg.grads) {
          const gval = r.outputs.get(gname);
          if (!gval) throw new AutoparError('E_INTERNAL', `gradient '${gname}' of '${p}' was not computed`);
          let a = acc.get(p);
          if (!a) {
            a = hostTensor(gval.dtype, gval.shape, new Float64Array(gval.data.length));
            acc.set(p, a);
          }
          addInto(a.data, gval, 1 / m);
        }
      }
      if (updateGraph) {
        const feeds = new Map<string, HostTensor>();
        for (const [p, gname] of tg.grads) feeds.set(gname, acc.get(p) as HostTensor);
        const r = await execute(updateGraph, feeds, { weights: state });
        const next = new Map(state);
        for (const [p, v] of tg.updates) next.set(p, r.outputs.get(v) as HostTensor);
        for (const [s, v] of tg.states) next.set(s, r.outputs.get(v) as HostTensor);
        state = next;
      }
      return { loss: lossSum / m, outputs, grads: acc, state };
    },
  };
}
