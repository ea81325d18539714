/**
 * Quantities in cluster files: a plain number in SI units, or a string with a unit.
 * Bytes vs bits follows the usual convention (`GB/s` bytes, `Gb/s` bits); decimal
 * prefixes are powers of 10, binary ones (`GiB`) powers of 2.
 */

export type QuantityKind = 'bytes' | 'bandwidth' | 'time' | 'flops';

/** The expected form of each kind, quoted in error messages. */
export const QUANTITY_FORMS: Readonly<Record<QuantityKind, string>> = {
  bytes: "a size in bytes: a number or a string like '80GB' or '40GiB'",
  bandwidth: "a bandwidth: a number in bytes/s or a string like '300GB/s' or '200Gb/s'",
  time: "a time: a number in seconds or a string like '5us' or '1.5ms'",
  flops: "a rate in FLOP/s: a number or a string like '312TFLOP/s'",
};

/**
 * A unit's scale, applied without a second rounding: decimal prefixes and time units
 * shift the decimal exponent of the number as written ('10us' is read as 10e-6, the
 * double nearest 1e-5, where 10 * 1e-6 is one ulp below it, and '2.039TB/s' as
 * 2.039e12 where 2.039 * 1e12 is not an integer); `factor` is a power of two (binary
 * prefixes, bits to bytes), so multiplying by it is exact.
 */
interface Scale {
  readonly exponent: number;
  readonly factor: number;
}

const DECIMAL: Readonly<Record<string, number>> = { '': 0, k: 3, K: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
const TIME: Readonly<Record<string, number>> = { s: 0, ms: -3, us: -6, 'µs': -6, 'μs': -6, ns: -9 };

/** Digits, then an optional exponent, then the unit (with or without a space). */
const NUMBER_UNIT = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+))?\s*(\S*)$/;

export type Parsed = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly reason: string };

function prefixScale(prefix: string, allowBinary: boolean): Scale | undefined {
  const exponent = DECIMAL[prefix];
  if (exponent !== undefined) return { exponent, factor: 1 };
  const factor = allowBinary ? BINARY[prefix] : undefined;
  return factor === undefined ? undefined : { exponent: 0, factor };
}

function unitScale(kind: QuantityKind, unit: string): Scale | string {
  switch (kind) {
    case 'bytes': {
      const m = /^([kKMGTPE]i?|)B$/.exec(unit);
      const scale = m ? prefixScale(m[1] ?? '', true) : undefined;
      if (scale !== undefined) return scale;
      if (/^[kKMGTPE]?i?b(it)?$/.test(unit)) return `'${unit}' is in bits; sizes are in bytes (e.g. 'GB', 'GiB')`;
      return `unknown size unit '${unit}' (use B, kB, MB, GB, TB or KiB, MiB, GiB, TiB)`;
    }
    case 'bandwidth': {
      const m = /^([kKMGTPE]i?|)(B|b|bit)(\/s|ps)$/.exec(unit);
      if (m) {
        const scale = prefixScale(m[1] ?? '', true);
        if (scale !== undefined) return m[2] === 'B' ? scale : { exponent: scale.exponent, factor: scale.factor / 8 };
      }
      return `unknown bandwidth unit '${unit}' (use GB/s for bytes or Gb/s for bits, also kB/s, MB/s, TB/s, Mb/s, Tb/s, GiB/s)`;
    }
    case 'time': {
      const exponent = TIME[unit];
      if (exponent !== undefined) return { exponent, factor: 1 };
      return `unknown time unit '${unit}' (use s, ms, us or ns)`;
    }
    case 'flops': {
      const m = /^([kKMGTPE]?)(FLOP\/s|FLOPS|flop\/s|flops)$/.exec(unit);
      const scale = m ? prefixScale(m[1] ?? '', false) : undefined;
      if (scale !== undefined) return scale;
      return `unknown FLOP/s unit '${unit}' (use FLOP/s with a prefix: GFLOP/s, TFLOP/s, PFLOP/s)`;
    }
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** Parses one quantity; never throws (the caller knows the key path for the message). */
export function parseQuantity(kind: QuantityKind, input: number | string): Parsed {
  if (typeof input === 'number') {
    return Number.isFinite(input) ? { ok: true, value: input } : { ok: false, reason: `${input} is not a finite number` };
  }
  const m = NUMBER_UNIT.exec(input.trim());
  const digits = m?.[1];
  if (!m || digits === undefined) return { ok: false, reason: `cannot read '${input}' as a number with a unit` };
  const written = Number(m[2] ?? 0);
  const unit = m[3] ?? '';
  const scale = unit === '' ? { exponent: 0, factor: 1 } : unitScale(kind, unit);
  if (typeof scale === 'string') return { ok: false, reason: scale };
  const value = Number(`${digits}e${written + scale.exponent}`) * scale.factor;
  if (!Number.isFinite(value)) return { ok: false, reason: `'${input}' is too large` };
  return { ok: true, value };
}

// ---- formatting for the human summary -------------------------------------------------

function withPrefix(value: number, unit: string): string {
  const prefixes: readonly (readonly [number, string])[] = [
    [1e18, 'E'],
    [1e15, 'P'],
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [scale, p] of prefixes) {
    if (Math.abs(value) >= scale) return `${trim(value / scale)} ${p}${unit}`;
  }
  return `${trim(value)} ${unit}`;
}

function trim(x: number): string {
  return Number(x.toPrecision(4)).toString();
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30 && Number.isInteger(bytes / 2 ** 30)) return `${bytes / 2 ** 30} GiB`;
  return withPrefix(bytes, 'B');
}

export function formatBandwidth(bytesPerSecond: number): string {
  return withPrefix(bytesPerSecond, 'B/s');
}

export function formatFlops(flopsPerSecond: number): string {
  return withPrefix(flopsPerSecond, 'FLOP/s');
}

export function formatTime(seconds: number): string {
  if (seconds === 0) return '0 s';
  if (seconds < 1e-6) return `${trim(seconds * 1e9)} ns`;
  if (seconds < 1e-3) return `${trim(seconds * 1e6)} us`;
  if (seconds < 1) return `${trim(seconds * 1e3)} ms`;
  return `${trim(seconds)} s`;
}
