/**
 * One step of bucket elimination, shared by variable-elimination.ts and
 * restricted-elimination.ts: the factors that read variable x, minimised over x for
 * every assignment of x's neighbours (its scope), with the minimising choice of x.
 */

export interface BucketFactor {
  /** Variables, ascending. */
  readonly vars: ArrayLike<number>;
  /** Row-major over `vars`, the last one fastest. */
  readonly table: Float64Array;
}

export interface BucketResult {
  /** Row-major over `scope`, the last one fastest: the least sum. */
  readonly table: Float64Array;
  /** The choice of x reaching it (the first when several do). */
  readonly best: Int32Array;
}

/**
 * `scope`: x's neighbours, ascending (every variable the bucket reads but x); `size`: the
 * choices of each variable. The sums run in an order that depends only on the factors'
 * positions, so the same bucket always gives the same table, bit for bit.
 */
export function eliminateBucket(bucket: readonly BucketFactor[], x: number, scope: ArrayLike<number>, size: ArrayLike<number>): BucketResult {
  const S = scope.length;
  const kx = size[x] ?? 1;
  let entries = 1;
  for (let d = 0; d < S; d++) entries *= size[scope[d] as number] ?? 1;
  const pos = new Map<number, number>();
  for (let d = 0; d < S; d++) pos.set(scope[d] as number, d);
  // Factors by the deepest scope digit they read (-1: x alone), so that when the
  // odometer moves digit d only the factors reading it or a later digit are summed
  // again: a table over (x, u) with u early in the scope is read once per value of the
  // digits up to u's, not once per entry.
  const infos = bucket.map((f) => {
    const ss = new Int32Array(S);
    let xs = 0;
    let depth = -1;
    let stride = 1;
    for (let i = f.vars.length - 1; i >= 0; i--) {
      const v = f.vars[i] as number;
      if (v === x) xs = stride;
      else {
        const d = pos.get(v) as number;
        ss[d] = stride;
        if (d > depth) depth = d;
      }
      stride *= size[v] ?? 1;
    }
    return { table: f.table, xs, ss, depth };
  });
  infos.sort((a, b) => a.depth - b.depth);
  const nf = infos.length;
  const tables = infos.map((i) => i.table);
  const xStride = Int32Array.from(infos, (i) => i.xs);
  // Groups of factors of one depth, ascending: group g is [groupStart[g], groupStart[g + 1]),
  // and a move of digit d redoes the groups from fromDigit[d] on.
  const groupStart: number[] = [];
  const groupDepth: number[] = [];
  infos.forEach((inf, k) => {
    if (groupDepth.at(-1) !== inf.depth) {
      groupStart.push(k);
      groupDepth.push(inf.depth);
    }
  });
  groupStart.push(nf);
  const G = groupDepth.length;
  const fromDigit = Int32Array.from({ length: S }, (_, d) => {
    const g = groupDepth.findIndex((depth) => depth >= d);
    return g < 0 ? G : g;
  });
  // The factors each digit moves, and by how much (most read one or two scope digits).
  const movers = Array.from({ length: S }, (_, d) => Int32Array.from(infos.flatMap((inf, k) => (inf.ss[d] !== 0 ? [k] : []))));
  const moves = movers.map((ks, d) => Int32Array.from(ks, (k) => infos[k]?.ss[d] ?? 0));
  const radix = Int32Array.from({ length: S }, (_, d) => size[scope[d] as number] ?? 1);
  const table = new Float64Array(entries);
  const best = new Int32Array(entries);
  const digits = new Int32Array(S);
  const base = new Int32Array(nf);
  // partial[g * kx + c]: groups 0..g summed for choice c of x at the current digits (the
  // last group's row is the whole sum).
  const rows = Math.max(G, 1);
  const partial = new Float64Array(rows * kx);
  const redo = (from: number): void => {
    for (let g = from; g < G; g++) {
      const at = g * kx;
      // Plain loops: copyWithin and fill are runtime calls, dearer than a few moves.
      if (g === 0) for (let c = 0; c < kx; c++) partial[c] = 0;
      else for (let c = 0; c < kx; c++) partial[at + c] = partial[at - kx + c] as number;
      for (let k = groupStart[g] as number; k < (groupStart[g + 1] as number); k++) {
        const t = tables[k] as Float64Array;
        const b = base[k] as number;
        const xs = xStride[k] as number;
        for (let c = 0; c < kx; c++) partial[at + c] = (partial[at + c] as number) + (t[b + c * xs] as number);
      }
    }
  };
  redo(0);
  const last = (rows - 1) * kx;
  for (let idx = 0; idx < entries; idx++) {
    let min = Infinity;
    let arg = 0;
    for (let c = 0; c < kx; c++) {
      const s = partial[last + c] as number;
      if (s < min) {
        min = s;
        arg = c;
      }
    }
    table[idx] = min;
    best[idx] = arg;
    // Odometer over the scope, last variable fastest, moving the bases of the factors
    // that read the digit that moves.
    for (let d = S - 1; d >= 0; d--) {
      const ks = movers[d] as Int32Array;
      const by = moves[d] as Int32Array;
      if ((digits[d] as number) + 1 < (radix[d] as number)) {
        digits[d] = (digits[d] as number) + 1;
        for (let m = 0; m < ks.length; m++) base[ks[m] as number] = (base[ks[m] as number] as number) + (by[m] as number);
        redo(fromDigit[d] as number);
        break;
      }
      const back = digits[d] as number;
      for (let m = 0; m < ks.length; m++) base[ks[m] as number] = (base[ks[m] as number] as number) - back * (by[m] as number);
      digits[d] = 0;
    }
  }
  return { table, best };
}
