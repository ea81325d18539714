/**
 * The all-reduce / reduce-scatter sums in WebAssembly SIMD (f32x4.add / i32x4.add), about
 * four times faster than the JavaScript loops of sum-kernels.ts; they are what bounds the
 * threads transport's bandwidth. The shared regions live in a shared WebAssembly.Memory
 * (shared-state.ts), so the kernels read the peers' regions in place. Additions go in the
 * order of the sources with float32 rounding after each (f32x4.add rounds per lane), so
 * results equal the JavaScript kernels' bit for bit. Where WebAssembly SIMD is missing,
 * loadWasmSum returns undefined and the JavaScript kernels are used.
 *
 * The bytes below are wat2wasm --enable-threads of this module (sumKf/sumKi for K = 2, 3, 4;
 * offsets in bytes, n elements, the last n % 4 elements left to the caller):
 *
 *   (module
 *     (import "env" "memory" (memory 1 65536 shared))
 *     (func (export "sum4f") (param $o i32) (param $a i32) (param $b i32) (param $c i32) (param $d i32) (param $n i32)
 *       (local $i i32) (local $end i32)
 *       (local.set $end (i32.and (i32.shl (local.get $n) (i32.const 2)) (i32.const -16)))
 *       (block $done (loop $top
 *         (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
 *         (v128.store (i32.add (local.get $o) (local.get $i))
 *           (f32x4.add (f32x4.add (f32x4.add
 *             (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i))))
 *             (v128.load (i32.add (local.get $c) (local.get $i)))) (v128.load (i32.add (local.get $d) (local.get $i)))))
 *         (local.set $i (i32.add (local.get $i) (i32.const 16)))
 *         (br $top))))
 *     ;; sum2f, sum3f: the same with two and three sources; sum2i..sum4i: the same with i32x4.add
 *   )
 */

/** The parts of the WebAssembly API used here (this project's TypeScript lib has no WebAssembly types). */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
}
declare const WebAssembly: {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

const WASM_BASE64 = 'AGFzbQEAAAABGQNgBH9/f38AYAV/f39/fwBgBn9/f39/fwACEgEDZW52Bm1lbW9yeQIDAYCABAMHBgAAAQECAgcxBgVzdW0yZgAABXN1bTJpAAEFc3VtM2YAAgVzdW0zaQADBXN1bTRmAAQFc3VtNGkABQrbAwZCAQJ/IANBAnRBcHEhBQJAA0AgBCAFTw0BIAAgBGogASAEav0ABAAgAiAEav0ABAD95AH9CwQAIARBEGohBAwACwsLQgECfyADQQJ0QXBxIQUCQANAIAQgBU8NASAAIARqIAEgBGr9AAQAIAIgBGr9AAQA/a4B/QsEACAEQRBqIQQMAAsLC04BAn8gBEECdEFwcSEGAkADQCAFIAZPDQEgACAFaiABIAVq/QAEACACIAVq/QAEAP3kASADIAVq/QAEAP3kAf0LBAAgBUEQaiEFDAALCwtOAQJ/IARBAnRBcHEhBgJAA0AgBSAGTw0BIAAgBWogASAFav0ABAAgAiAFav0ABAD9rgEgAyAFav0ABAD9rgH9CwQAIAVBEGohBQwACwsLWgECfyAFQQJ0QXBxIQcCQANAIAYgB08NASAAIAZqIAEgBmr9AAQAIAIgBmr9AAQA/eQBIAMgBmr9AAQA/eQBIAQgBmr9AAQA/eQB/QsEACAGQRBqIQYMAAsLC1oBAn8gBUECdEFwcSEHAkADQCAGIAdPDQEgACAGaiABIAZq/QAEACACIAZq/QAEAP2uASADIAZq/QAEAP2uASAEIAZq/QAEAP2uAf0LBAAgBkEQaiEGDAALCws=';

/** A shared memory of at least `bytes` bytes (whole 64 KiB pages). */
export function sharedMemory(bytes: number): WasmMemory {
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

type Kernel = (...args: number[]) => void;

export interface WasmSum {
  /**
   * Elements [target, target + k) (byte offset `target`) become the sum, in order, of the k
   * elements at each byte offset of `srcs`. `target` may be one of the sources at the same
   * offset. More than four sources go through `scratch` (k elements, used by nobody else).
   */
  sum(dtype: 'float32' | 'int32', target: number, srcs: readonly number[], k: number, scratch: number): void;
}

export function loadWasmSum(memory: WasmMemory): WasmSum | undefined {
  let exports: Record<string, unknown>;
  try {
    const module = new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  } catch {
    return undefined; // no SIMD or no shared memory in this engine
  }
  const kernel = (name: string): Kernel => {
    const f = exports[name];
    if (typeof f !== 'function') throw new Error(`wasm-sum: no export ${name}`);
    return (...args: number[]) => void f(...args);
  };
  const kernels = {
    float32: [kernel('sum2f'), kernel('sum3f'), kernel('sum4f')],
    int32: [kernel('sum2i'), kernel('sum3i'), kernel('sum4i')],
  };
  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);

  /** One fused pass: out = ((s0 + s1) + s2) + s3 over the first floor(k/4)*4 elements. */
  const pass = (dtype: 'float32' | 'int32', out: number, srcs: readonly number[], k: number): void =>
    kernels[dtype][srcs.length - 2]!(out, ...srcs, k);

  return {
    sum(dtype, target, srcs, k, scratch) {
      const n = srcs.length;
      const view = dtype === 'float32' ? f32 : i32;
      const t = target / 4;
      if (n === 1) view.copyWithin(t, srcs[0]! / 4, srcs[0]! / 4 + k);
      else if (n <= 4) pass(dtype, target, srcs, k);
      else {
        // the target may be a source read by later passes: accumulate apart, then copy
        pass(dtype, scratch, srcs.slice(0, 4), k);
        for (let i = 4; i < n; i += 3) pass(dtype, scratch, [scratch, ...srcs.slice(i, i + 3)], k);
        view.copyWithin(t, scratch / 4, scratch / 4 + (k & ~3));
      }
      // the last k % 4 elements, in the same order and rounding
      for (let j = k & ~3; j < k; j++) {
        let s = view[srcs[0]! / 4 + j]!;
        for (let i = 1; i < n; i++) s = dtype === 'float32' ? Math.fround(s + view[srcs[i]! / 4 + j]!) : (s + view[srcs[i]! / 4 + j]!) | 0;
        view[t + j] = s;
      }
    },
  };
}
