/**
 * out[o + j] = srcs[0][a + j] + srcs[1][a + j] + ... for j < k, added in the order of `srcs`
 * with the element type's rounding after every addition (float32: Math.fround; int32:
 * wrap-around), so the result is exactly what adding the arrays one after another in that
 * order gives. Up to four sources are fused per pass: one pass reads 4 streams and writes
 * 1, where pairwise passes would read and write the accumulator each time.
 * Separate float32 and int32 loops keep each one monomorphic for the JIT.
 */

export function sumF32(out: Float32Array, o: number, srcs: readonly Float32Array[], a: number, k: number): void {
  const n = srcs.length;
  const s0 = srcs[0]!;
  if (n === 1) {
    out.set(s0.subarray(a, a + k), o);
    return;
  }
  const s1 = srcs[1]!;
  if (n === 2) for (let j = 0; j < k; j++) out[o + j] = s0[a + j]! + s1[a + j]!;
  else if (n === 3) {
    const s2 = srcs[2]!;
    for (let j = 0; j < k; j++) out[o + j] = Math.fround(s0[a + j]! + s1[a + j]!) + s2[a + j]!;
  } else {
    const s2 = srcs[2]!;
    const s3 = srcs[3]!;
    for (let j = 0; j < k; j++) out[o + j] = Math.fround(Math.fround(s0[a + j]! + s1[a + j]!) + s2[a + j]!) + s3[a + j]!;
  }
  for (let i = 4; i < n; i += 3) {
    const t0 = srcs[i]!;
    const t1 = srcs[i + 1];
    const t2 = srcs[i + 2];
    if (t1 && t2)
      for (let j = 0; j < k; j++) out[o + j] = Math.fround(Math.fround(out[o + j]! + t0[a + j]!) + t1[a + j]!) + t2[a + j]!;
    else if (t1) for (let j = 0; j < k; j++) out[o + j] = Math.fround(out[o + j]! + t0[a + j]!) + t1[a + j]!;
    else for (let j = 0; j < k; j++) out[o + j] = out[o + j]! + t0[a + j]!;
  }
}

export function sumI32(out: Int32Array, o: number, srcs: readonly Int32Array[], a: number, k: number): void {
  const n = srcs.length;
  const s0 = srcs[0]!;
  if (n === 1) {
    out.set(s0.subarray(a, a + k), o);
    return;
  }
  const s1 = srcs[1]!;
  if (n === 2) for (let j = 0; j < k; j++) out[o + j] = s0[a + j]! + s1[a + j]!;
  else if (n === 3) {
    const s2 = srcs[2]!;
    for (let j = 0; j < k; j++) out[o + j] = ((s0[a + j]! + s1[a + j]!) | 0) + s2[a + j]!;
  } else {
    const s2 = srcs[2]!;
    const s3 = srcs[3]!;
    for (let j = 0; j < k; j++) out[o + j] = ((((s0[a + j]! + s1[a + j]!) | 0) + s2[a + j]!) | 0) + s3[a + j]!;
  }
  for (let i = 4; i < n; i += 3) {
    const t0 = srcs[i]!;
    const t1 = srcs[i + 1];
    const t2 = srcs[i + 2];
    if (t1 && t2) for (let j = 0; j < k; j++) out[o + j] = ((((out[o + j]! + t0[a + j]!) | 0) + t1[a + j]!) | 0) + t2[a + j]!;
    else if (t1) for (let j = 0; j < k; j++) out[o + j] = ((out[o + j]! + t0[a + j]!) | 0) + t1[a + j]!;
    else for (let j = 0; j < k; j++) out[o + j] = out[o + j]! + t0[a + j]!;
  }
}
