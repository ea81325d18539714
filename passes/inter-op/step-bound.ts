/**
 * A lower bound on a 1F1B step from its stages' work, and whether any stage plan of a
 * stage problem could step under a given time by it.
 *
 * Stage k (in pipeline order) cannot start its first forward before the first
 * micro-batch has gone forward through the stages before it; it then runs its M forwards
 * and M backwards one at a time; and after its last backward, the last micro-batch's
 * backwards on the stages before it remain. With w_s a stage's forward and backward work
 * per micro-batch, for every k:
 *     step >= Σ_{s<k} w_s + M · w_k
 * (transfers and the update only add). For one micro-batch this is the whole sum; for
 * many, M times the slowest stage (what stageCap rests on). It tells apart the counts
 * with few micro-batches, whose stages are all fast enough for the cap but whose bubble
 * (the stages before the slowest) makes them lose.
 */
import type { StageProblem } from './stage-dp.js';

export function stepLowerBound(work: readonly number[], microbatches: number): number {
  let before = 0;
  let bound = 0;
  for (const w of work) {
    bound = Math.max(bound, before + microbatches * w);
    before += w;
  }
  return bound;
}

/**
 * Whether some plan of `problem` (contiguous stages covering every layer, on at most all
 * its devices, each stage fitting with one micro-batch in flight: fewer constraints than
 * the stage DP's, so no plan the DP could find is missed) has stepLowerBound <= `bound`.
 *
 * A DP over stage boundaries in layer order: per boundary and number of devices used, the
 * least work before it (less work before a boundary never hurts a later stage's bound).
 * A state with more devices and no less work than another at the same boundary is dropped.
 */
export function couldStepUnder(problem: StageProblem, bound: number): boolean {
  if (bound === Infinity) return true;
  const L = problem.layers;
  const N = problem.devices;
  const M = Math.max(1, problem.microbatches);
  // states[a]: devices used -> least work of the stages before layer a.
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
        if (M * o.seconds > bound || o.devices > N || o.staticBytes + o.activationBytes > o.memoryLimit) continue;
        const next = states[b + 1] as Map<number, number>;
        for (const [d, w] of front) {
          if (d + o.devices > N || w + M * o.seconds > bound) continue;
          if (b + 1 === L) return true;
          const old = next.get(d + o.devices);
          if (old === undefined || w + o.seconds < old) next.set(d + o.devices, w + o.seconds);
        }
      }
    }
  }
  return false;
}
