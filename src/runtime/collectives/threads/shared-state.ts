/**
 * The memory the thread workers of one run share: a control array of Int32 words (flags,
 * barrier counters, per-rank call signatures and send slots) and, per rank, two data
 * regions of `slotBytes` each. Collectives stream buffers through the regions in segments,
 * alternating between the two so that a rank can fill the next segment while slower peers
 * still read the previous one; memory stays 2 * slotBytes per rank whatever the buffer size.
 * The data lives in a shared WebAssembly.Memory so the SIMD sums (wasm-sum.ts) read the
 * regions in place; after the regions, each rank has a scratch area of slotBytes / 2 for
 * sums over more than four members.
 */
import { sharedMemory, type WasmMemory } from './wasm-sum.js';

/** Worker status words: set by the worker when its program ends, by the launcher on failure. */
export const RUNNING = 0;
export const FINISHED = 1;
export const FAILED = 2;

/** Words of a rank's call signature, compared by every member after a collective's first barrier. */
export const SIG_KIND = 0;
export const SIG_DTYPE = 1;
export const SIG_LENGTH = 2;
export const SIG_PARAM = 3;
const SIG_WORDS = 4;

/** Words of a rank's send slot (one message piece in flight per sender). */
export const P2P_STATE = 0; // 0 empty, 1 holds a piece for P2P_DST
export const P2P_DST = 1;
export const P2P_TAG = 2;
export const P2P_LEN = 3;
export const P2P_TOTAL = 4;
export const P2P_DTYPE = 5;
const P2P_WORDS = 6;

/** Everything a worker needs to attach to the run's shared memory (sent in workerData). */
export interface SharedInit {
  readonly size: number;
  readonly slotBytes: number;
  readonly control: SharedArrayBuffer;
  /** Holds the regions, then the scratch areas; `data` is its buffer. */
  readonly memory: WasmMemory;
  readonly data: SharedArrayBuffer;
}

/** Bytes of each rank's scratch area (16-byte multiple, for the SIMD kernels). */
export function scratchBytes(init: SharedInit): number {
  return Math.ceil(init.slotBytes / 2 / 16) * 16;
}

/** Byte offset of a rank's region (0 or 1) in `data`. */
export function regionOffset(init: SharedInit, rank: number, region: number): number {
  return (2 * rank + region) * init.slotBytes;
}

/** Byte offset of a rank's scratch area in `data`. */
export function scratchOffset(init: SharedInit, rank: number): number {
  return 2 * init.size * init.slotBytes + rank * scratchBytes(init);
}

/** 32 MiB of regions in all, 64 KiB..4 MiB per region: large segments amortise barriers. */
export function defaultSlotBytes(size: number): number {
  const per = Math.floor((32 * 2 ** 20) / (2 * size));
  let p = 2 ** 16;
  while (p * 2 <= per && p < 4 * 2 ** 20) p *= 2;
  return p;
}

export function createShared(size: number, slotBytes: number): SharedInit {
  if (!Number.isInteger(size) || size < 1) throw new Error(`worker count must be a positive integer, got ${size}`);
  if (!Number.isInteger(slotBytes) || slotBytes % 4 !== 0 || slotBytes / 4 < size)
    throw new Error(`slotBytes must be a multiple of 4 holding at least one element per worker (>= ${4 * size}), got ${slotBytes}`);
  const layout = new ControlLayout(size);
  const scratch = Math.ceil(slotBytes / 2 / 16) * 16;
  const memory = sharedMemory(size * (2 * slotBytes + scratch));
  return { size, slotBytes, control: new SharedArrayBuffer(layout.words * 4), memory, data: memory.buffer };
}

/** Word offsets in the control array. */
export class ControlLayout {
  readonly abort = 0;
  readonly words: number;
  private readonly statusBase = 1;
  private readonly syncBase: number;
  private readonly sigBase: number;
  private readonly p2pBase: number;
  constructor(private readonly size: number) {
    this.syncBase = this.statusBase + size;
    this.sigBase = this.syncBase + size * size;
    this.p2pBase = this.sigBase + size * SIG_WORDS;
    this.words = this.p2pBase + size * P2P_WORDS;
  }
  status(rank: number): number {
    return this.statusBase + rank;
  }
  /** How many barriers `from` has entered together with `to` (only `from` writes it). */
  sync(from: number, to: number): number {
    return this.syncBase + from * this.size + to;
  }
  sig(rank: number, word: number): number {
    return this.sigBase + rank * SIG_WORDS + word;
  }
  p2p(rank: number, word: number): number {
    return this.p2pBase + rank * P2P_WORDS + word;
  }
}

/** Views of the data regions, per rank and region, in both element types. */
export function regionViews(init: SharedInit): { f32: Float32Array[][]; i32: Int32Array[][] } {
  const elems = init.slotBytes / 4;
  const f32: Float32Array[][] = [];
  const i32: Int32Array[][] = [];
  for (let r = 0; r < init.size; r++) {
    f32.push([0, 1].map((k) => new Float32Array(init.data, regionOffset(init, r, k), elems)));
    i32.push([0, 1].map((k) => new Int32Array(init.data, regionOffset(init, r, k), elems)));
  }
  return { f32, i32 };
}
