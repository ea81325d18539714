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
  const nf = bucket.length;
  // Per factor: its stride for each scope digit, the deepest digit it reads (-1: x
  // alone), and its table with x's choices innermost, so that the sum over x's choices
  // reads consecutive entries (most calls are small: plain loops, no maps or closures).
  const depthOf = new Int32Array(nf);
  const stridesOf: Int32Array[] = [];
  const tableOf: Float64Array[] = [];
  for (let k = 0; k < nf; k++) {
    const f = bucket[k] as BucketFactor;
    const ss = new Int32Array(S);
    let xs = 0;
    let depth = -1;
    let stride = 1;
    // Both ascending: the scope position of each variable by a walk down from the end.
    let d = S - 1;
    for (let i = f.vars.length - 1; i >= 0; i--) {
      const v = f.vars[i] as number;
      if (v === x) xs = stride;
      else {
        while (d > 0 && scope[d] !== v) d--;
        ss[d] = stride;
        if (d > depth) depth = d;
      }
      stride *= size[v] ?? 1;
    }
    let table = f.table;
    if (xs !== 1 && kx > 1) {
      // Entry hi·(xs·kx) + c·xs + lo moves to (hi·xs + lo)·kx + c: the strides below x's
      // (digits after it in the factor) grow by kx, those above it stay.
      const moved = new Float64Array(table.length);
      const block = xs * kx;
      let o = 0;
      for (let hi = 0; hi < table.length; hi += block) {
        for (let lo = 0; lo < xs; lo++) for (let c = 0; c < kx; c++) moved[o++] = table[hi + c * xs + lo] as number;
      }
      table = moved;
      for (let e = 0; e < S; e++) if ((ss[e] as number) < xs) ss[e] = (ss[e] as number) * kx;
    }
    depthOf[k] = depth;
    stridesOf.push(ss);
    tableOf.push(table);
  }
  // Factors by the deepest scope digit they read (stable), so that when the odometer
  // moves digit d only the factors reading it or a later digit are summed again: a table
  // over (x, u) with u early in the scope is read once per value of the digits up to
  // u's, not once per entry.
  const order = Array.from({ length: nf }, (_, k) => k).sort((a, b) => (depthOf[a] as number) - (depthOf[b] as number));
  const tables = order.map((k) => tableOf[k] as Float64Array);
  // Groups of factors of one depth, ascending: group g is [groupStart[g], groupStart[g + 1]),
  // and a move of digit d redoes the groups from fromDigit[d] on.
  const groupStart: number[] = [];
  const groupDepth: number[] = [];
  for (let k = 0; k < nf; k++) {
    const depth = depthOf[order[k] as number] as number;
    if (groupDepth.length === 0 || groupDepth[groupDepth.length - 1] !== depth) {
      groupStart.push(k);
      groupDepth.push(depth);
    }
  }
  groupStart.push(nf);
  const G = groupDepth.length;
  const fromDigit = new Int32Array(S);
  for (let d = 0; d < S; d++) {
    let g = 0;
    while (g < G && (groupDepth[g] as number) < d) g++;
    fromDigit[d] = g;
  }
  // The factors each digit moves, and by how much (most read one or two scope digits).
  const movers: Int32Array[] = [];
  const moves: Int32Array[] = [];
  for (let d = 0; d < S; d++) {
    let n = 0;
    for (let k = 0; k < nf; k++) if ((stridesOf[order[k] as number] as Int32Array)[d] !== 0) n++;
    const ks = new Int32Array(n);
    const by = new Int32Array(n);
    n = 0;
    for (let k = 0; k < nf; k++) {
      const st = (stridesOf[order[k] as number] as Int32Array)[d] as number;
      if (st !== 0) {
        ks[n] = k;
        by[n++] = st;
      }
    }
    movers.push(ks);
    moves.push(by);
  }
  const radix = new Int32Array(S);
  for (let d = 0; d < S; d++) radix[d] = size[scope[d] as number] ?? 1;
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
        for (let c = 0; c < kx; c++) partial[at + c] = (partial[at + c] as number) + (t[b + c] as number);
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
