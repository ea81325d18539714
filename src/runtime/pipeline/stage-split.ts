/**
 * A training graph cut into pipeline stages for execution: per stage, the graph of its
 * forward part, of its backward part and of its update, and what crosses each stage
 * boundary in each direction. Every value crossing from stage t to a stage u travels
 * through the stages between (relayed), so only neighbours talk, once per micro-batch
 * and direction, as the GPipe and 1F1B schedules of passes/schedule send. Forward values
 * a later stage's backward reads travel with the forward message; backward values go
 * with the gradient message. This version runs each stage on one device (no sharding
 * inside a stage).
 */
import { extractSubgraph } from '../../../passes/extract.js';
import { AutoparError } from '../../errors.js';
import type { DType } from '../../ir/dtype.js';
import type { Graph } from '../../ir/types.js';
import type { TrainingGraph } from '../../training/build.js';

export type Phase = 'forward' | 'backward' | 'update';

export interface BoundaryValue {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export interface StagePart {
  /** The stage's nodes of this phase, with the values they read from elsewhere as inputs. */
  readonly graph: Graph;
  /** Values this part computes that are needed later (by this stage or others). */
  readonly keeps: readonly string[];
}

export interface StageGraphs {
  readonly stage: number;
  readonly forward: StagePart;
  readonly backward: StagePart;
  readonly update: StagePart | undefined;
  /** Parameters (and their gradients) this stage owns. */
  readonly params: readonly string[];
  /** States of those parameters (optimizer moments, step). */
  readonly states: readonly string[];
  /** Values sent to stage + 1 after each forward / received from stage - 1 before it. */
  readonly sendForward: readonly BoundaryValue[];
  readonly recvForward: readonly BoundaryValue[];
  /** Values sent to stage - 1 after each backward / received from stage + 1 before it. */
  readonly sendBackward: readonly BoundaryValue[];
  readonly recvBackward: readonly BoundaryValue[];
  /** After each step: updated parameters sent from their owner to the other stages reading them (the same list on every stage). */
  readonly paramSync: readonly ParamSync[];
}

export interface ParamSync {
  readonly param: string;
  readonly from: number;
  readonly to: number;
  readonly shape: readonly number[];
}

/** What splitStages and stageMessages share: where each value is made, and what crosses each boundary. */
interface Crossings {
  readonly where: ReadonlyMap<string, { readonly stage: number; readonly phase: Phase }>;
  readonly paramStage: ReadonlyMap<string, number>;
  readonly paramSync: readonly ParamSync[];
  /** Values each stage reads from outside itself, by phase. */
  readonly reads: readonly { readonly forward: ReadonlySet<string>; readonly backward: ReadonlySet<string>; readonly update: ReadonlySet<string> }[];
  /** Per boundary b|b+1: values crossing it forward, and backward (repeats and all). */
  readonly forwardAt: readonly (readonly string[])[];
  readonly backwardAt: readonly (readonly string[])[];
  /** The values of a boundary list, once each, sorted, with their types. */
  uniq(xs: readonly string[]): BoundaryValue[];
}

/** Where every value is made (its node's layer's range among `ranges`, contiguous, covering all layers), and what crosses each boundary. */
function crossings(tg: TrainingGraph, layerOf: ReadonlyMap<string, number>, ranges: readonly (readonly [number, number])[]): Crossings {
  const g = tg.graph;
  const S = ranges.length;
  const stageOfLayer = (l: number): number => ranges.findIndex(([a, b]) => l >= a && l <= b);
  const where = new Map<string, { stage: number; phase: Phase }>();
  g.nodes.forEach((n, i) => {
    const l = layerOf.get(n.name);
    const stage = l === undefined ? -1 : stageOfLayer(l);
    if (stage < 0) throw new AutoparError('E_INTERNAL', `pipeline split: node '${n.name}' has no stage (layer ${String(l)})`);
    const phase: Phase = i < tg.forwardNodes ? 'forward' : i < tg.gradientNodes ? 'backward' : 'update';
    for (const o of n.outputs) if (o !== '') where.set(o, { stage, phase });
  });
  const inputs = new Set(g.inputs.map((i) => i.name));
  const local = (v: string): boolean => inputs.has(v) || g.initializers.has(v) || g.constants.has(v) || !where.has(v);
  // Parameters belong to the stage of their update. A parameter other stages read too
  // (tied weights, or an initializer the exporter shared between layers) has its
  // gradient contributions carried back to its owner like any backward value, and its
  // updated value sent from the owner to each reader after every step.
  const paramStage = new Map<string, number>();
  for (const p of tg.params) {
    const up = tg.updates.get(p);
    const w = up ? where.get(up) : where.get(tg.grads.get(p) ?? '');
    paramStage.set(p, w?.stage ?? 0);
  }
  const readers = new Map<string, Set<number>>();
  for (const n of g.nodes) {
    const s = where.get(n.outputs.find((o) => o !== '') ?? '')?.stage;
    for (const v of n.inputs) {
      const owner = paramStage.get(v);
      if (owner !== undefined && s !== undefined && owner !== s) {
        let set = readers.get(v);
        if (!set) readers.set(v, (set = new Set()));
        set.add(s);
      }
    }
  }
  // One global order (by parameter, then reader) that owners and readers both follow.
  const paramSync: ParamSync[] = [...readers]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([param, set]) => [...set].sort((a, b) => a - b).map((to) => ({ param, from: paramStage.get(param) ?? 0, to, shape: (g.types.get(param)?.shape ?? []).map(Number) })));
  // Values each (stage, phase) reads from outside itself, and who needs each value where.
  const readsOf = (stage: number, phase: Phase): Set<string> => {
    const out = new Set<string>();
    g.nodes.forEach((n) => {
      const w = where.get(n.outputs.find((o) => o !== '') ?? '');
      if (!w || w.stage !== stage || w.phase !== phase) return;
      for (const v of n.inputs) {
        if (v === '' || local(v)) continue;
        const pw = where.get(v);
        if (pw && (pw.stage !== stage || pw.phase !== phase)) out.add(v);
      }
    });
    return out;
  };
  const reads = Array.from({ length: S }, (_, s) => ({ forward: readsOf(s, 'forward'), backward: readsOf(s, 'backward'), update: readsOf(s, 'update') }));
  const describe = (v: string): BoundaryValue => {
    const t = g.types.get(v);
    if (!t) throw new AutoparError('E_INTERNAL', `pipeline split: '${v}' has no type`);
    return { name: v, shape: t.shape.map(Number), dtype: t.dtype };
  };
  // A value crosses boundary b|b+1 forward when made at or before b (in a forward part)
  // and read after b; backward when made after b and read at or before b.
  const forwardAt: string[][] = Array.from({ length: Math.max(0, S - 1) }, () => []);
  const backwardAt: string[][] = Array.from({ length: Math.max(0, S - 1) }, () => []);
  for (const [s, r] of reads.entries()) {
    for (const v of [...r.forward, ...r.backward, ...r.update]) {
      const w = where.get(v);
      if (!w || w.stage === s) continue;
      // Update values shared by every parameter (Adam's bias corrections from the step
      // count) are recomputed by each stage from its own copy of the global states.
      if (r.update.has(v) && !r.forward.has(v) && !r.backward.has(v)) continue;
      if (w.stage < s) {
        if (w.phase !== 'forward') throw new AutoparError('E_USAGE', `stage ${s} reads '${v}', a ${w.phase} value of the earlier stage ${w.stage}`);
        for (let b = w.stage; b < s; b++) forwardAt[b]?.push(v);
      } else {
        for (let b = s; b < w.stage; b++) backwardAt[b]?.push(v);
      }
    }
  }
  const uniq = (xs: readonly string[]): BoundaryValue[] => [...new Set(xs)].sort().map(describe);
  return { where, paramStage, paramSync, reads, forwardAt, backwardAt, uniq };
}

/**
 * The messages of a split without its graphs: per boundary b|b+1, what goes forward
 * (stage b's sendForward) and what comes back (its recvBackward), and the parameter
 * syncs; with the errors splitStages gives for a graph it cannot split. For the
 * planner, which prices messages and runs no stage: cutting every stage's graphs took
 * most of the time of assembling a GPT-1.3B plan of 8 stages.
 */
export function stageMessages(tg: TrainingGraph, layerOf: ReadonlyMap<string, number>, ranges: readonly (readonly [number, number])[]): { readonly forward: readonly (readonly BoundaryValue[])[]; readonly backward: readonly (readonly BoundaryValue[])[]; readonly paramSync: readonly ParamSync[] } {
  const c = crossings(tg, layerOf, ranges);
  const g = tg.graph;
  // Each stage's update must need nothing but its own gradients (updatePart's check,
  // without cutting its graph): the model inputs it would reach instead.
  const producer = new Map<string, (typeof g.nodes)[number]>();
  for (const n of g.nodes) for (const o of n.outputs) if (o !== '') producer.set(o, n);
  const graphInputs = new Set(g.inputs.map((i) => i.name));
  ranges.forEach((_, s) => {
    const own = owned(tg, c.paramStage, s);
    if (own.updates.length === 0) return;
    const grads = new Set(own.grads);
    const reached = new Set<string>();
    const seen = new Set<string>();
    const stack = [...own.updates, ...own.stateNext];
    for (let v = stack.pop(); v !== undefined; v = stack.pop()) {
      if (seen.has(v) || grads.has(v)) continue;
      seen.add(v);
      if (graphInputs.has(v)) reached.add(v);
      const n = producer.get(v);
      // A node making one of the gradients is cut away whole, as extractSubgraph does.
      if (!n || n.outputs.some((o) => grads.has(o))) continue;
      for (const i of n.inputs) if (i !== '') stack.push(i);
    }
    const foreign = g.inputs.filter((i) => reached.has(i.name)).map((i) => i.name);
    if (foreign.length) throw new AutoparError('E_USAGE', updateNeeds(s, foreign));
  });
  const boundaries = Array.from({ length: Math.max(0, ranges.length - 1) }, (_, b) => b);
  return { forward: boundaries.map((b) => c.uniq(c.forwardAt[b] ?? [])), backward: boundaries.map((b) => c.uniq(c.backwardAt[b] ?? [])), paramSync: c.paramSync };
}

/** A training graph cut into pipeline stages for execution (see the file comment). */
export function splitStages(tg: TrainingGraph, layerOf: ReadonlyMap<string, number>, ranges: readonly (readonly [number, number])[]): StageGraphs[] {
  const g = tg.graph;
  const S = ranges.length;
  const { where, paramStage, paramSync, reads, forwardAt, backwardAt, uniq } = crossings(tg, layerOf, ranges);
  return ranges.map((_, s): StageGraphs => {
    const sendForward = s < S - 1 ? uniq(forwardAt[s] ?? []) : [];
    const recvForward = s > 0 ? uniq(forwardAt[s - 1] ?? []) : [];
    const sendBackward = s > 0 ? uniq(backwardAt[s - 1] ?? []) : [];
    const recvBackward = s < S - 1 ? uniq(backwardAt[s] ?? []) : [];
    const made = (phase: Phase): string[] => [...where].filter(([, w]) => w.stage === s && w.phase === phase).map(([v]) => v);
    const r = reads[s] as (typeof reads)[number];
    const { params, states, grads, updates, stateNext } = owned(tg, paramStage, s);
    // What the forward part must keep: read by this stage's backward, or sent on.
    const fMade = new Set(made('forward'));
    const forwardKeeps = [...new Set([...r.backward].filter((v) => fMade.has(v)).concat(sendForward.map((b) => b.name).filter((v) => fMade.has(v)), sendBackward.map((b) => b.name).filter((v) => fMade.has(v)), s === S - 1 ? [tg.loss] : []))].sort();
    const bMade = new Set(made('backward'));
    const backwardKeeps = [...new Set([...grads, ...sendBackward.map((b) => b.name).filter((v) => bMade.has(v))])].sort();
    const forwardCut = [...r.forward];
    const backwardCut = [...r.backward];
    return {
      stage: s,
      forward: { graph: extractSubgraph(g, forwardKeeps, forwardCut), keeps: forwardKeeps },
      backward: { graph: extractSubgraph(g, backwardKeeps, backwardCut), keeps: backwardKeeps },
      update: updates.length ? updatePart(g, [...updates, ...stateNext], grads, s) : undefined,
      params,
      states,
      sendForward,
      recvForward,
      sendBackward,
      recvBackward,
      paramSync,
    };
  });
}

/** What stage s owns: its parameters, their gradients and updated values, and their states (with a copy of every global one, the step count, kept in step) and next values. */
function owned(tg: TrainingGraph, paramStage: ReadonlyMap<string, number>, s: number): { params: string[]; states: string[]; grads: string[]; updates: string[]; stateNext: string[] } {
  const params = tg.params.filter((p) => paramStage.get(p) === s);
  const states = [...tg.states.keys()].filter((st) => {
    const p = tg.stateOf.get(st);
    return p === undefined || paramStage.get(p) === s;
  });
  const defined = (xs: readonly (string | undefined)[]): string[] => xs.filter((x): x is string => x !== undefined);
  return { params, states, grads: defined(params.map((p) => tg.grads.get(p))), updates: defined(params.map((p) => tg.updates.get(p))), stateNext: defined(states.map((st) => tg.states.get(st))) };
}

/** The update of one stage: from its own gradients and states only (no gradient-norm clipping across stages). */
function updatePart(g: Graph, outputs: readonly string[], grads: readonly string[], stage: number): StagePart {
  const graph = extractSubgraph(g, outputs, grads);
  const own = new Set(grads);
  const foreign = graph.inputs.filter((i) => !own.has(i.name)).map((i) => i.name);
  if (foreign.length) throw new AutoparError('E_USAGE', updateNeeds(stage, foreign));
  return { graph, keeps: outputs };
}

function updateNeeds(stage: number, foreign: readonly string[]): string {
  return `stage ${stage}'s optimizer update needs ${foreign.slice(0, 3).join(', ')} from elsewhere; pipelined execution supports per-parameter optimizers in this version`;
}
