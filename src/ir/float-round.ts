/**
 * Rounding to the 16-bit float formats, round-to-nearest-even as IEEE 754, numpy and
 * PyTorch do. Devices run float16/bfloat16 as float32 (tfjs has neither), so a Cast to
 * them rounds explicitly: a model that casts down and back up must lose what the
 * reference loses.
 */

function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Largest e with 2^e <= a (a > 0, finite). */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  // log2 can be off by one near powers of two.
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  return e;
}

/** Rounds to a format with `mant` stored mantissa bits, normal exponents >= minExp, and max finite `max`. */
function roundTo(x: number, mant: number, minExp: number, max: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  // Halfway between max and the next power of two (the first value that overflows).
  const overflow = max + 2 ** (exponentOf(max) - mant - 1);
  if (a >= overflow) return Math.sign(x) * Infinity;
  // Subnormals share the spacing of the smallest normal binade.
  const ulp = 2 ** (Math.max(exponentOf(a), minExp) - mant);
  return Math.sign(x) * roundHalfEven(a / ulp) * ulp;
}

const F16_MAX = 65504;
const BF16_MAX = (2 - 2 ** -7) * 2 ** 127;

export function roundToFloat16(x: number): number {
  return roundTo(x, 10, -14, F16_MAX);
}

export function roundToBfloat16(x: number): number {
  return roundTo(x, 7, -126, BF16_MAX);
}
