/**
 * One pipeline stage on one worker: runs its schedule (passes/schedule: forward and
 * backward per micro-batch, sends and receives to its neighbours, one update) for a
 * number of training steps with the reference executor, accumulating gradients as the
 * single-device trainer does (each micro-batch's gradient times 1/M, in float32).
 */
import type { Instruction } from '../../../passes/schedule/instruction.js';
import { type HostTensor, hostTensor, numel } from '../../ir/host-tensor.js';
import type { Graph } from '../../ir/types.js';
import type { Communicator } from '../collectives/communicator.js';
import { execute } from '../executor.js';
import { messageLength, pack, unpack } from './boundary.js';
import type { StageGraphs } from './stage-split.js';

export interface StageArgs {
  readonly split: StageGraphs;
  readonly program: readonly Instruction[];
  readonly microbatches: readonly ReadonlyMap<string, HostTensor>[];
  /** Initializers this stage's graphs read (parameters, optimizer states, constants). */
  readonly state: ReadonlyMap<string, HostTensor>;
  readonly steps: number;
  /** Parameter -> its gradient value in the training graph. */
  readonly grads: ReadonlyMap<string, string>;
  /** Parameter -> updated value, state -> next value. */
  readonly updates: ReadonlyMap<string, string>;
  readonly stateNext: ReadonlyMap<string, string>;
  readonly loss: string;
}

export interface StageResult {
  /** Mean loss over the micro-batches of each step (the last stage only; empty elsewhere). */
  readonly losses: number[];
  /** Accumulated gradients of the last step, by parameter. */
  readonly grads: Map<string, HostTensor>;
  /** And of the first step (what a reference folder's gradients are compared with). */
  readonly firstGrads: Map<string, HostTensor>;
  /** Parameters and states after the last step. */
  readonly state: Map<string, HostTensor>;
}

function feedsFor(g: Graph, data: ReadonlyMap<string, HostTensor>, env: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> {
  const feeds = new Map<string, HostTensor>();
  for (const i of g.inputs) {
    const v = env.get(i.name) ?? data.get(i.name);
    if (!v) throw new Error(`stage input '${i.name}' is neither received nor in the micro-batch`);
    feeds.set(i.name, v);
  }
  return feeds;
}

export default async function runStage(comm: Communicator, args: StageArgs): Promise<StageResult> {
  const { split, program } = args;
  const M = args.microbatches.length;
  let state = new Map(args.state);
  const losses: number[] = [];
  let acc = new Map<string, HostTensor>();
  let firstGrads = acc;
  // Tags must stay within MPI's guaranteed 0..32767. Sends are synchronous, so the
  // messages between two stages in one direction arrive in order: the tag only has to
  // tell activations from gradients and catch a mix-up of micro-batches within a step.
  const tag = (_step: number, mb: number, dir: 0 | 1): number => (mb * 2 + dir) % 30_000;
  for (let step = 0; step < args.steps; step++) {
    const env = args.microbatches.map(() => new Map<string, HostTensor>());
    acc = new Map();
    let lossSum = 0;
    for (const ins of program) {
      switch (ins.kind) {
        case 'recv-activation': {
          const buf = await comm.recv(ins.from, tag(step, ins.mb, 0), messageLength(split.recvForward), `activations mb ${ins.mb} from stage ${ins.from}`);
          unpack(split.recvForward, buf, env[ins.mb] as Map<string, HostTensor>);
          break;
        }
        case 'recv-gradient': {
          const buf = await comm.recv(ins.from, tag(step, ins.mb, 1), messageLength(split.recvBackward), `gradients mb ${ins.mb} from stage ${ins.from}`);
          unpack(split.recvBackward, buf, env[ins.mb] as Map<string, HostTensor>);
          break;
        }
        case 'send-activation':
          await comm.send(pack(split.sendForward, env[ins.mb] as Map<string, HostTensor>, 'send-activation'), ins.to, tag(step, ins.mb, 0), `activations mb ${ins.mb} to stage ${ins.to}`);
          break;
        case 'send-gradient':
          await comm.send(pack(split.sendBackward, env[ins.mb] as Map<string, HostTensor>, 'send-gradient'), ins.to, tag(step, ins.mb, 1), `gradients mb ${ins.mb} to stage ${ins.to}`);
          break;
        case 'forward':
        case 'backward': {
          const part = ins.kind === 'forward' ? split.forward : split.backward;
          const mine = env[ins.mb] as Map<string, HostTensor>;
          const r = await execute(part.graph, feedsFor(part.graph, args.microbatches[ins.mb] as ReadonlyMap<string, HostTensor>, mine), { weights: state });
          for (const k of part.keeps) {
            const v = r.outputs.get(k);
            if (v) mine.set(k, v);
          }
          if (ins.kind === 'forward' && r.outputs.has(args.loss)) lossSum += r.outputs.get(args.loss)?.data[0] ?? NaN;
          if (ins.kind === 'backward') {
            for (const p of split.params) {
              const gv = r.outputs.get(args.grads.get(p) ?? '');
              if (!gv) continue;
              let a = acc.get(p);
              if (!a) acc.set(p, (a = hostTensor(gv.dtype, gv.shape, new Float64Array(gv.data.length))));
              const scale = 1 / M;
              for (let i = 0; i < a.data.length; i++) a.data[i] = (a.data[i] ?? 0) + (gv.data[i] ?? 0) * scale;
            }
          }
          break;
        }
        case 'accumulate':
          // Done as each backward finishes (above).
          break;
        case 'update': {
          if (!split.update) break;
          const feeds = new Map<string, HostTensor>();
          for (const p of split.params) {
            const gname = args.grads.get(p);
            const a = acc.get(p);
            if (gname && a) feeds.set(gname, a);
          }
          const r = await execute(split.update.graph, feeds, { weights: state });
          const next = new Map(state);
          for (const p of split.params) {
            const v = r.outputs.get(args.updates.get(p) ?? '');
            if (v) next.set(p, v);
          }
          for (const st of split.states) {
            const v = r.outputs.get(args.stateNext.get(st) ?? '');
            if (v) next.set(st, v);
          }
          state = next;
          break;
        }
        default: {
          const _: never = ins;
          throw new Error(`unknown instruction ${JSON.stringify(_)}`);
        }
      }
    }
    // Parameters other stages read: the owner's updated value to each of them, in the
    // one order every stage follows (so synchronous sends cannot deadlock).
    for (const [k, sync] of split.paramSync.entries()) {
      const label = `parameter ${sync.param} ${sync.from}->${sync.to}`;
      const t = 30_000 + (k % 2_000); // clear of the micro-batch tags
      if (sync.from === comm.rank) {
        const v = state.get(sync.param);
        if (!v) throw new Error(`stage ${comm.rank} owns '${sync.param}' but does not hold it`);
        await comm.send(Float32Array.from(v.data), sync.to, t, label);
      } else if (sync.to === comm.rank) {
        const buf = await comm.recv(sync.from, t, numel(sync.shape), label);
        state.set(sync.param, hostTensor('float32', sync.shape, buf));
      }
    }
    if (split.forward.keeps.includes(args.loss)) losses.push(lossSum / M);
    if (step === 0) firstGrads = acc;
  }
  return { losses, grads: acc, firstGrads, state };
}
