/**
 * Measures this machine on the active tfjs backend: matmul, conv2d and elementwise add
 * at a few sizes each. Each sample: warm-up calls, then several timed batches of calls
 * (a batch lasts at least a few milliseconds so the timer's resolution does not
 * matter), and the median per-call time; the sizes of one kind take turns batch by
 * batch (see interleavedSeconds).
 */
import { cpus, totalmem } from 'node:os';
import { initBackend, tf } from '../src/runtime/backend.js';
import { measureCollectives, type CollectiveTransport } from './collective-profiler.js';
import { RateCurve } from './rates.js';
import { PROFILE_VERSION, type Profile, type ProfileSample } from './profile.js';

/**
 * Which clock times a call. On a shared machine the wall clock also counts the other
 * processes; this process's CPU time does not, and for a single-threaded backend (wasm
 * without threads, cpu) it is the time the kernel takes on a core of its own. A
 * multi-threaded backend sums its threads' CPU time, so it is timed by the wall clock.
 */
export type Clock = 'cpu' | 'wall';

/** The clock for the active tfjs backend (see Clock). */
export function backendClock(): Clock {
  switch (tf.getBackend()) {
    case 'wasm':
      return tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'wall' : 'cpu';
    case 'cpu':
      return 'cpu';
    default:
      return 'wall';
  }
}

function now(clock: Clock): number {
  if (clock === 'wall') return performance.now() / 1e3;
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export interface TimingOptions {
  /** Default: backendClock(). */
  readonly clock?: Clock;
  readonly warmup?: number;
  readonly batches?: number;
  /** Each timed batch repeats the call until it lasts at least this long. */
  readonly minBatchSeconds?: number;
}

/**
 * Median seconds per call of each of `runs` (each must finish its work before
 * returning). The runs are timed in interleaved rounds, so that a change of load on a
 * shared machine affects all of them alike rather than one size of a series.
 */
export function interleavedSeconds(runs: readonly (() => void)[], opts: TimingOptions = {}): number[] {
  const warmup = opts.warmup ?? 2;
  const batches = opts.batches ?? 15;
  const minBatch = opts.minBatchSeconds ?? 0.003;
  const clock = opts.clock ?? backendClock();
  const calls = runs.map((run) => {
    for (let i = 0; i < warmup; i++) run();
    const t0 = now(clock);
    run();
    const once = Math.max(now(clock) - t0, 1e-7);
    return Math.max(1, Math.ceil(minBatch / once));
  });
  const times: number[][] = runs.map(() => []);
  for (let b = 0; b < batches; b++) {
    runs.forEach((run, i) => {
      const n = calls[i] ?? 1;
      const start = now(clock);
      for (let c = 0; c < n; c++) run();
      times[i]?.push((now(clock) - start) / n);
    });
  }
  return times.map((t) => {
    const sorted = [...t].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? 0;
  });
}

/** Median seconds per call of one run. */
export function medianSeconds(run: () => void, opts: TimingOptions = {}): number {
  return interleavedSeconds([run], opts)[0] ?? 0;
}

/** Forces a result to exist (async backends) by reading one element, then frees it. */
function finish(t: tf.Tensor): void {
  const flat = tf.reshape(t, [-1]);
  const one = tf.slice(flat, [0], [1]);
  one.dataSync();
  tf.dispose([t, flat, one]);
}

const F32 = 4;

/** An op ready to time: its figures, the call, and how to free its inputs. */
interface Bench {
  readonly label: string;
  readonly flops: number;
  readonly bytes: number;
  readonly run: () => void;
  readonly free: () => void;
}

function matmulBench(m: number, k: number, n: number): Bench {
  const a = tf.randomNormal([m, k]);
  const b = tf.randomNormal([k, n]);
  return {
    label: `${m}x${k}x${n}`,
    flops: 2 * m * k * n,
    bytes: F32 * (m * k + k * n + m * n),
    run: () => finish(tf.matMul(a, b)),
    free: () => tf.dispose([a, b]),
  };
}

/** NHWC input [1, size, size, channels], 3x3 filter, channels -> channels, 'same' padding. */
function convBench(size: number, channels: number): Bench {
  const x = tf.randomNormal<tf.Rank.R4>([1, size, size, channels]);
  const w = tf.randomNormal<tf.Rank.R4>([3, 3, channels, channels]);
  const pixels = size * size;
  return {
    label: `${size}x${size}x${channels}->${channels} 3x3`,
    flops: 2 * pixels * channels * channels * 9,
    bytes: F32 * (2 * pixels * channels + 9 * channels * channels),
    run: () => finish(tf.conv2d(x, w, 1, 'same')),
    free: () => tf.dispose([x, w]),
  };
}

/** c = a + b on `elements` floats: 2 reads and 1 write per element. */
function addBench(elements: number): Bench {
  const a = tf.randomNormal([elements]);
  const b = tf.randomNormal([elements]);
  return {
    label: `add ${elements}`,
    flops: elements,
    bytes: 3 * F32 * elements,
    run: () => finish(tf.add(a, b)),
    free: () => tf.dispose([a, b]),
  };
}

/** Times a series of ops in interleaved rounds. */
function measureSeries(benches: readonly Bench[], opts?: TimingOptions): ProfileSample[] {
  try {
    const seconds = interleavedSeconds(
      benches.map((b) => b.run),
      opts,
    );
    return benches.map((b, i) => ({ label: b.label, flops: b.flops, bytes: b.bytes, seconds: seconds[i] ?? 0 }));
  } finally {
    for (const b of benches) b.free();
  }
}

export function measureMatmul(m: number, k: number, n: number, opts?: TimingOptions): ProfileSample {
  const [s] = measureSeries([matmulBench(m, k, n)], opts);
  if (!s) throw new Error('no sample');
  return s;
}

export function measureConv(size: number, channels: number, opts?: TimingOptions): ProfileSample {
  const [s] = measureSeries([convBench(size, channels)], opts);
  if (!s) throw new Error('no sample');
  return s;
}

export function measureElementwise(elements: number, opts?: TimingOptions): ProfileSample {
  const [s] = measureSeries([addBench(elements)], opts);
  if (!s) throw new Error('no sample');
  return s;
}

/** Square matmuls of the given sizes, timed in interleaved rounds. */
export function measureMatmuls(sizes: readonly number[], opts?: TimingOptions): ProfileSample[] {
  return measureSeries(
    sizes.map((n) => matmulBench(n, n, n)),
    opts,
  );
}

export interface ProfileOptions {
  /** Fewer and smaller sizes: a few seconds. */
  readonly quick?: boolean;
  /** Measure the runtime's collectives too (default true); false writes `collectives: null`. */
  readonly collectives?: boolean;
  /** Which runtime transport runs them (default 'threads'). */
  readonly transport?: CollectiveTransport;
  readonly log?: (line: string) => void;
}

export async function measureProfile(opts: ProfileOptions = {}): Promise<Profile> {
  const backend = await initBackend();
  const log = opts.log ?? ((): void => undefined);
  const quick = opts.quick === true;
  const matmulSizes = quick ? [64, 128, 256, 512] : [64, 128, 256, 512, 768, 1024];
  const convShapes: readonly (readonly [number, number])[] = quick
    ? [[16, 32], [32, 32], [32, 64]]
    : [[16, 32], [32, 32], [32, 64], [64, 64], [64, 128]];
  const adds = quick ? [1 << 14, 1 << 16, 1 << 18, 1 << 20] : [1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22];

  const matmul = measureMatmuls(matmulSizes);
  for (const s of matmul) log(`matmul ${s.label}: ${(s.flops / s.seconds / 1e9).toFixed(1)} GFLOP/s`);
  const conv = measureSeries(convShapes.map(([size, ch]) => convBench(size, ch)));
  for (const s of conv) log(`conv ${s.label}: ${(s.flops / s.seconds / 1e9).toFixed(1)} GFLOP/s`);
  const elementwise = measureSeries(adds.map((n) => addBench(n)));
  for (const s of elementwise) log(`${s.label}: ${(s.bytes / s.seconds / 1e9).toFixed(2)} GB/s`);

  const collectives = opts.collectives === false ? null : await measureCollectives({ quick, transport: opts.transport ?? 'threads', log });

  const cpu = cpus();
  return {
    version: PROFILE_VERSION,
    createdAt: new Date().toISOString(),
    backend: backend.tfjsBackend,
    clock: backendClock(),
    machine: {
      platform: process.platform,
      arch: process.arch,
      cpus: Math.max(1, cpu.length),
      cpuModel: cpu[0]?.model.trim() ?? 'unknown',
      totalMemoryBytes: totalmem(),
      node: process.version,
    },
    dtype: 'float32',
    samples: { matmul, conv, elementwise },
    summary: {
      matmulFlops: new RateCurve(matmul.map((s) => ({ work: s.flops, seconds: s.seconds }))).peak(),
      convFlops: new RateCurve(conv.map((s) => ({ work: s.flops, seconds: s.seconds }))).peak(),
      memoryBandwidth: new RateCurve(elementwise.map((s) => ({ work: s.bytes, seconds: s.seconds }))).peak(),
    },
    collectives,
  };
}
