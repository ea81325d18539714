/**
 * Lower bounds on a 1F1B step from its stages' work and updates, and whether any stage
 * plan of a stage problem could step under a given time by them.
 *
 * The prefix bound. Stage k (in pipeline order) cannot start its first forward before the
 * first micro-batch has gone forward through the stages before it; it then runs its M
 * forwards and M backwards one at a time, then its update (u_k, once per step). After its
 * last backward, the last micro-batch's backwards on the stages before it remain, and
 * stage 0's update after them. With w_s a stage's forward and backward work per
 * micro-batch, for every k:
 *     step >= Σ_{s<k} (w_s + t_{s+1}) + M · w_k + u_0    and    step >= M · w_k + u_k
 * where t_s is the boundary into stage s, crossed by the first micro-batch's activation on
 * the way in and the last one's gradient on the way out (0 where unknown: transfers only
 * add). For one micro-batch and one stage this is the whole step; for many
 * micro-batches, about M times the slowest stage (what stageCap rests on). It tells apart
 * the counts with few micro-batches, whose stages are all fast enough for the cap but
 * whose bubble (the stages before the slowest, and the boundaries between them) and
 * update make them lose.
 *
 * The round-trip bound. It counts what the prefix bound leaves out: the stages after k.
 * In the schedule's 1F1B order (schedule.ts) stage k runs c = min(S - k, M) forwards
 * before its first backward, then alternates, then ends with c backwards, the last
 * micro-batch's last. A micro-batch's backward on stage k waits for its round trip
 * through the stages after k, D_k = Σ_{s>k} (w_s + t_s): the first micro-batch's before
 * the alternation starts, the last one's before the last backward. With a stage's forward
 * f = w / 3 and backward b = 2w / 3 (the split realize gives the schedule), stage k's span
 * from its first forward to its last backward is at least (roundTripSpan)
 *     max(f + D, c·f) + (M - c)·w + max(D + b, c·b)              when c < M,
 *     max(max(f + D, M·f) + M·b, M·f + D + b)                   when c = M,
 * and the step at least the prefix's forwards and backwards, that span and an update. For
 * the slowest stage first (GPT-1.3B's embedding and four blocks, M = 16, 8 stages) this
 * is 3.52 s against a simulated 3.55 s, where the prefix bound gives 3.27 s; for the plan
 * that bound likes best at GPT-1.3B's floors (stages slower at the front: it weighs the
 * later stages' work for one micro-batch only), 3.40 s against its 2.63 s.
 */
import type { StageOption, StageProblem } from './stage-dp.js';

/** The share of a stage's work per micro-batch that is its forward (realize's split of the simulated schedule). */
export const FORWARD_SHARE = 1 / 3;

/**
 * The least span of a stage of work `w` per micro-batch, from its first forward's start to
 * its last backward's end, in a 1F1B step of `microbatches`, when `inFlight` (c) forwards
 * precede its first backward and each micro-batch's round trip through the stages after
 * it takes `after` (D): see the round-trip bound above.
 */
export function roundTripSpan(w: number, after: number, inFlight: number, microbatches: number): number {
  const M = Math.max(1, microbatches);
  const c = Math.min(Math.max(1, inFlight), M);
  const f = FORWARD_SHARE * w;
  const b = w - f;
  // Until the first backward can start: its round trip, or the forwards before it.
  const first = Math.max(f + after, c * f);
  if (c === M) return Math.max(first + M * b, M * f + after + b);
  // Then M - c pairs of a backward and a forward, then c backwards, the last after the last micro-batch's round trip.
  return first + (M - c) * w + Math.max(after + b, c * b);
}

/** The prefix bound alone (stepLowerBound holds it). `transfers` as stepLowerBound's. */
export function prefixBound(work: readonly number[], microbatches: number, updates: readonly number[] = [], transfers: readonly number[] = []): number {
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
 * Both bounds (the round trip's spans hold the prefix bound's M x w): for every stage k,
 * step >= its span + u_k and >= the work before it + its span + u_0. `transfers[k]`:
 * seconds across the boundary into stage k, both ways (transfers[0] unused).
 */
export function stepLowerBound(work: readonly number[], microbatches: number, updates: readonly number[] = [], transfers: readonly number[] = []): number {
  const M = Math.max(1, microbatches);
  const S = work.length;
  // The round trip after each stage: the work and boundaries of the stages after it.
  const after = new Array<number>(S).fill(0);
  for (let k = S - 2; k >= 0; k--) after[k] = (after[k + 1] ?? 0) + (work[k + 1] ?? 0) + (transfers[k + 1] ?? 0);
  // The work before stage k, with stage 0's update (which follows it all) folded in.
  let before = updates[0] ?? 0;
  let bound = 0;
  work.forEach((w, k) => {
    if (k > 0) before += transfers[k] ?? 0;
    const span = Math.max(roundTripSpan(w, after[k] ?? 0, S - k, M), M * w);
    bound = Math.max(bound, before + span, span + (updates[k] ?? 0));
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
export function couldStepUnder(problem: StageProblem, bound: number, roundTrips = true): boolean {
  return bound === Infinity || stepUnder(problem, bound, roundTrips) !== undefined;
}

/**
 * The options of one plan that couldStepUnder accepts, in layer order (the first found,
 * not the best), or undefined when there is none: the witness a caller refines (a plan
 * on options at their floors names the meshes whose floors to tighten).
 *
 * A DP over stage boundaries from the last layer back. A stage's terms of stepLowerBound
 * need the work after it (its round trip D) and before it; the total T (every stage's work
 * and crossing) is their sum with its own, so each term reads "T <= bound - u_0 + slack_k"
 * with slack_k = D_k + w_k - (what the stage spans), and the plan holds when T + u_0 <=
 * bound + the least slack. Per boundary, number of stages after it (capped at M: more
 * leave every earlier stage's c at M) and whether the stage after it holds whole hosts:
 * the states (devices used, round trip from there, least slack) that no other beats on
 * all three. A stage's own span and update (what needs nothing before it) are tested as
 * it is added, and a state already past the bound dropped.
 *
 * Its work grows with layers² x options x M (the stage counts) times its fronts: GPT-175B's
 * 40 units on 515 meshes of 1,024 devices ran for minutes. With `roundTrips` false, the
 * prefix bound's test alone (prefixUnder), which needs neither the count nor the trip.
 */
export function stepUnder(problem: StageProblem, bound: number, roundTrips = true): readonly StageOption[] | undefined {
  if (!roundTrips) return prefixUnder(problem, bound);
  const L = problem.layers;
  const N = problem.devices;
  const M = Math.max(1, problem.microbatches);
  const depth = Math.min(M, L);
  type State = { readonly devices: number; readonly trip: number; readonly slack: number; readonly option: StageOption | undefined; readonly next: State | undefined };
  // states[a][whole][n]: the stages from layer a on, n of them (capped), the first on whole hosts or not.
  const states: State[][][][] = Array.from({ length: L + 1 }, () => [0, 1].map(() => Array.from({ length: depth + 1 }, () => [])));
  states[L]?.[0]?.[0]?.push({ devices: 0, trip: 0, slack: Infinity, option: undefined, next: undefined });
  /** Adds `s` unless another state there is no worse on devices, round trip and slack; drops those it beats. */
  const offer = (at: State[], s: State): void => {
    for (const t of at) if (t.devices <= s.devices && t.trip <= s.trip && t.slack >= s.slack) return;
    for (let i = at.length - 1; i >= 0; i--) {
      const t = at[i] as State;
      if (s.devices <= t.devices && s.trip <= t.trip && s.slack >= t.slack) at.splice(i, 1);
    }
    at.push(s);
  };
  const path = (first: StageOption, next: State): StageOption[] => {
    const out = [first];
    for (let s: State | undefined = next; s?.option; s = s.next) out.push(s.option);
    return out;
  };
  for (let a = L; a > 0; a--) {
    const crossing = a < L ? (problem.boundarySeconds?.(a) ?? 0) : 0;
    for (const [nextWhole, byCount] of (states[a] ?? []).entries()) {
      for (const [n, here] of byCount.entries()) {
        if (here.length === 0) continue;
        const count = Math.min(n + 1, depth);
        for (let first = a - 1; first >= 0; first--) {
          for (const o of problem.options(first, a - 1)) {
            const update = o.stepSeconds ?? 0;
            if (M * o.seconds + update > bound || o.devices > N || o.staticBytes + o.activationBytes > o.memoryLimit) continue;
            const into = nextWhole === 1 || o.wholeHosts === true ? crossing : 0;
            const target = states[first]?.[o.wholeHosts === true ? 1 : 0]?.[count] as State[];
            for (const st of here) {
              if (st.devices + o.devices > N) continue;
              const after = st.trip + into;
              const span = Math.max(roundTripSpan(o.seconds, after, n + 1, M), M * o.seconds);
              if (span + update > bound) continue;
              const trip = after + o.seconds;
              const slack = Math.min(st.slack, trip - span);
              if (first === 0) {
                // Stage 0: its update follows everything.
                if (trip + update <= bound + slack) return path(o, st);
                continue;
              }
              // The stages still to come only add to the total.
              if (trip > bound + slack) continue;
              offer(target, { devices: st.devices + o.devices, trip, slack, option: o, next: st });
            }
          }
        }
      }
    }
  }
  return undefined;
}

/**
 * The options of one plan whose prefixBound is at most `bound` (stepUnder without the
 * round trips). A DP over stage boundaries in layer order: per boundary, number of devices
 * used and whether the stage before it holds whole hosts, the least work before it, stage
 * 0's update and the crossings included (less never hurts a later stage's bound). A state
 * with more devices and no less work than another at the same boundary and kind is
 * dropped. A state at boundary a is final once the loop reaches a (stages only end
 * later), so the links back to it stay true.
 */
function prefixUnder(problem: StageProblem, bound: number): readonly StageOption[] | undefined {
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
