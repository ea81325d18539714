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
 *     step >= Σ_{s<k} w_s + M · w_k + u_0    and    step >= M · w_k + u_k
 * (transfers only add). For one micro-batch and one stage this is the whole step without
 * transfers; for many micro-batches, about M times the slowest stage (what stageCap rests
 * on). It tells apart the counts with few micro-batches, whose stages are all fast enough
 * for the cap but whose bubble (the stages before the slowest) and update make them lose.
 */
import type { StageProblem } from './stage-dp.js';

export function stepLowerBound(work: readonly number[], microbatches: number, updates: readonly number[] = []): number {
  // The work before stage k, with stage 0's update (which follows it all) folded in.
  let before = updates[0] ?? 0;
  let bound = 0;
  work.forEach((w, k) => {
    bound = Math.max(bound, before + microbatches * w, microbatches * w + (updates[k] ?? 0));
    before += w;
  });
  return bound;
}

/**
 * Whether some plan of `problem` (contiguous stages covering every layer, on at most all
 * its devices, each stage fitting with one micro-batch in flight: fewer constraints than
 * the stage DP's, so no plan the DP could find is missed) has stepLowerBound <= `bound`,
 * each stage's update its option's `stepSeconds` (0 when absent).
 *
 * A DP over stage boundaries in layer order: per boundary and number of devices used, the
 * least work before it, stage 0's update included (less never hurts a later stage's
 * bound). A state with more devices and no less work than another at the same boundary
 * is dropped.
 */
export function couldStepUnder(problem: StageProblem, bound: number): boolean {
  if (bound === Infinity) return true;
  const L = problem.layers;
  const N = problem.devices;
  const M = Math.max(1, problem.microbatches);
  // states[a]: devices used -> least work of the stages before layer a (plus stage 0's update).
  const states: Map<number, number>[] = Array.from({ length: L + 1 }, () => new Map());
  states[0]?.set(0, 0);
  for (let a = 0; a < L; a++) {
    const here = states[a] as Map<number, number>;
    if (here.size === 0) continue;
    // Pareto front by devices ascending: keep a state only if it has less work than every one with fewer devices.
    const front: [number, number][] = [];
    for (const [d, w] of [...here].sort((x, y) => x[0] - y[0])) if (front.length === 0 || w < (front[front.length - 1]?.[1] ?? Infinity)) front.push([d, w]);
    for (let b = a; b < L; b++) {
      for (const o of problem.options(a, b)) {
        const update = o.stepSeconds ?? 0;
        if (M * o.seconds + update > bound || o.devices > N || o.staticBytes + o.activationBytes > o.memoryLimit) continue;
        const next = states[b + 1] as Map<number, number>;
        for (const [d, w] of front) {
          if (d + o.devices > N || w + M * o.seconds > bound) continue;
          if (b + 1 === L) return true;
          // After the first stage, what every later stage waits behind: its work and its update.
          const after = a === 0 ? o.seconds + update : w + o.seconds;
          const old = next.get(d + o.devices);
          if (old === undefined || after < old) next.set(d + o.devices, after);
        }
      }
    }
  }
  return false;
}
