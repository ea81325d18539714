/**
 * A lower bound on a 1F1B step from its stages' work and updates, and whether any stage
 * plan of a stage problem could step under a given time by it.
 *
 * Stage k (in pipeline order) cannot start its first forward before the first
 * micro-batch has gone forward through the stages before it; it then runs its M forwards
 * and M backwards one at a time, then its update (u_k, once per step). After its last
 * backward, the last micro-batch's backwards on the stages before it remain, and stage
 * 0's update after them. With w_s a stage's forward and backward work per micro-batch,
 * for every k:
 *     step >= Σ_{s<k} (w_s + t_{s+1}) + M · w_k + u_0    and    step >= M · w_k + u_k
 * where t_s is the boundary into stage s, crossed by the first micro-batch's activation on
 * the way in and the last one's gradient on the way out (0 where unknown: transfers only
 * add). For one micro-batch and one stage this is the whole step; for many
 * micro-batches, about M times the slowest stage (what stageCap rests on). It tells apart
 * the counts with few micro-batches, whose stages are all fast enough for the cap but
 * whose bubble (the stages before the slowest, and the boundaries between them) and
 * update make them lose.
 */
import type { StageOption, StageProblem } from './stage-dp.js';

/** `transfers[k]`: seconds across the boundary into stage k, both ways (transfers[0] unused). */
export function stepLowerBound(work: readonly number[], microbatches: number, updates: readonly number[] = [], transfers: readonly number[] = []): number {
  // The work before stage k, with stage 0's update (which follows it all) folded in.
  let before = updates[0] ?? 0;
  let bound = 0;
  work.forEach((w, k) => {
    if (k > 0) before += transfers[k] ?? 0;
    bound = Math.max(bound, before + microbatches * w, microbatches * w + (updates[k] ?? 0));
    before += w;
  });
  return bound;
}

/**
 * Whether some plan of `problem` (contiguous stages covering every layer, on at most all
 * its devices, each stage fitting with one micro-batch in flight: fewer constraints than
 * the stage DP's, so no plan the DP could find is missed) has stepLowerBound <= `bound`,
 * each stage's update its option's `stepSeconds` (0 when absent), and each boundary that
 * must cross hosts (a stage on whole hosts shares none with the stage beside it) its
 * `boundarySeconds` (the problem's, over its link: the network's for the DP over the
 * slowest link); a boundary that may stay inside a host counts 0.
 */
export function couldStepUnder(problem: StageProblem, bound: number): boolean {
  return bound === Infinity || stepUnder(problem, bound) !== undefined;
}

/**
 * The options of one plan that couldStepUnder accepts, in layer order (the first found,
 * not the best), or undefined when there is none: the witness a caller refines (a plan
 * on options at their floors names the meshes whose floors to tighten).
 *
 * A DP over stage boundaries in layer order: per boundary, number of devices used and
 * whether the stage before it holds whole hosts, the least work before it, stage 0's
 * update and the crossings included (less never hurts a later stage's bound). A state
 * with more devices and no less work than another at the same boundary and kind is
 * dropped. A state at boundary a is final once the loop reaches a (stages only end
 * later), so the links back to it stay true.
 */
export function stepUnder(problem: StageProblem, bound: number): readonly StageOption[] | undefined {
  const L = problem.layers;
  const N = problem.devices;
  const M = Math.max(1, problem.microbatches);
  // states[a][whole]: devices used -> least work of the stages before layer a (plus stage
  // 0's update and the crossings), `whole` (1) when the stage ending at a holds whole
  // hosts; with the stage that got there and the state it came from.
  type State = { readonly after: number; readonly option: StageOption | undefined; readonly from: State | undefined };
  const states: [Map<number, State>, Map<number, State>][] = Array.from({ length: L + 1 }, () => [new Map(), new Map()]);
  states[0]?.[0].set(0, { after: 0, option: undefined, from: undefined });
  const path = (last: StageOption, from: State): StageOption[] => {
    const out = [last];
    for (let s: State | undefined = from; s?.option; s = s.from) out.push(s.option);
    return out.reverse();
  };
  for (let a = 0; a < L; a++) {
    const crossing = a > 0 ? (problem.boundarySeconds?.(a) ?? 0) : 0;
    // Pareto fronts by devices ascending, one per kind of stage before: keep a state only
    // if it has less work than every one with fewer devices.
    const fronts = (states[a] ?? []).map((here) => {
      const front: [number, State][] = [];
      for (const [d, st] of [...here].sort((x, y) => x[0] - y[0])) if (front.length === 0 || st.after < (front[front.length - 1]?.[1].after ?? Infinity)) front.push([d, st]);
      return front;
    });
    if (fronts.every((f) => f.length === 0)) continue;
    for (let b = a; b < L; b++) {
      for (const o of problem.options(a, b)) {
        const update = o.stepSeconds ?? 0;
        if (M * o.seconds + update > bound || o.devices > N || o.staticBytes + o.activationBytes > o.memoryLimit) continue;
        const next = states[b + 1]?.[o.wholeHosts === true ? 1 : 0] as Map<number, State>;
        for (const [prevWhole, front] of fronts.entries()) {
          const into = prevWhole === 1 || o.wholeHosts === true ? crossing : 0;
          for (const [d, st] of front) {
            const w = st.after;
            if (d + o.devices > N || w + into + M * o.seconds > bound) continue;
            if (b + 1 === L) return path(o, st);
            // After the first stage, what every later stage waits behind: its work and its update.
            const after = a === 0 ? o.seconds + update : w + into + o.seconds;
            const old = next.get(d + o.devices);
            if (old === undefined || after < old.after) next.set(d + o.devices, { after, option: o, from: st });
          }
        }
      }
    }
  }
  return undefined;
}
