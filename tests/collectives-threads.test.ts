/**
 * The threads transport: every collective on 2, 3 and 4 workers equals the sequential
 * computation exactly (world, mesh-axis subgroups, uneven lengths, several segments per
 * buffer), byte counters follow the nccl-tests convention, and failures end the run with
 * an error naming the rank and the collective's label instead of hanging.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunError } from '../src/runtime/collectives/errors.js';
import { runThreads } from '../src/runtime/collectives/threads/launcher.js';
import { sumF32, sumI32 } from '../src/runtime/collectives/threads/sum-kernels.js';
import { loadWasmSum, sharedMemory } from '../src/runtime/collectives/threads/wasm-sum.js';
import { badCallMessages, cases, expected, expectedCounts } from './fixtures/collectives/cases.js';
import { ROOT } from './helpers/cli.js';

const PROGRAMS = path.join(ROOT, 'dist', 'tests', 'fixtures', 'collectives', 'programs.js');

async function runError(p: Promise<unknown>): Promise<RunError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RunError) return e;
    throw e;
  }
  throw new Error('the run succeeded but should have failed');
}

describe('threads transport: results and counts', () => {
  for (const workers of [2, 3, 4])
    for (const [slotBytes, kernels] of [[256, 'wasm'], [undefined, 'wasm'], [256, 'js']] as const)
      it(`${workers} workers, ${slotBytes ? `${slotBytes}-byte segments` : 'default segments'}, ${kernels} sums`, async () => {
        const run = await runThreads({ workers, module: PROGRAMS, exportName: 'runCases', slotBytes, kernels, timeoutMs: 10_000 });
        const cs = cases(workers);
        expect(run.results).toHaveLength(workers);
        for (let rank = 0; rank < workers; rank++) {
          const got = run.results[rank];
          if (!Array.isArray(got)) throw new Error(`rank ${rank} returned ${String(got)}`);
          expect(got).toHaveLength(cs.length);
          for (let ci = 0; ci < cs.length; ci++) {
            const want = expected(cs, ci, rank, workers);
            const g: unknown = got[ci];
            expect(g, `${cs[ci]!.name} on rank ${rank}`).toBeInstanceOf(want.constructor);
            expect(g, `${cs[ci]!.name} on rank ${rank}`).toEqual(want);
          }
          const counts = expectedCounts(cs, rank);
          counts.barrier = { count: 1, bytes: 0 };
          expect(run.counts[rank]).toEqual(counts);
        }
      });

  // More than four members take the kernels' extra passes (4 sources fused, then 3 at a time).
  for (const workers of [5, 7])
    for (const kernels of ['wasm', 'js'] as const)
      it(`${workers} workers (sums of more than four members), ${kernels} sums`, async () => {
        const run = await runThreads({ workers, module: PROGRAMS, exportName: 'runCases', slotBytes: 512, kernels, timeoutMs: 10_000 });
        const cs = cases(workers);
        for (let rank = 0; rank < workers; rank++) {
          const got = run.results[rank];
          if (!Array.isArray(got)) throw new Error(`rank ${rank} returned ${String(got)}`);
          for (let ci = 0; ci < cs.length; ci++) expect(got[ci], `${cs[ci]!.name} on rank ${rank}`).toEqual(expected(cs, ci, rank, workers));
        }
      });

  it('counts bytes as nccl-tests: all-gather counts the gathered output', async () => {
    const run = await runThreads({ workers: 4, module: PROGRAMS, exportName: 'runCases' });
    // Spot-check the formula on its own, independently of expectedCounts.
    const cs = cases(4);
    const ag = cs.filter((c) => c.kind === 'all-gather');
    const bytes = ag.reduce((s, c) => s + 4 * c.length * c.partition[0]!.length, 0);
    expect(run.counts[0]!['all-gather']).toEqual({ count: ag.length, bytes });
  });
});

describe('sum kernels', () => {
  // Non-integer floats: fused passes must round like adding the arrays one after another.
  for (const n of [1, 2, 3, 4, 5, 6, 7, 8])
    it(`${n} sources, float32 and int32, equal to sequential accumulation bit for bit`, () => {
      const k = 257;
      let seed = 12345 + n;
      const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
      const f = Array.from({ length: n }, () => Float32Array.from({ length: k + 9 }, () => rnd() * 1e3));
      const want = new Float32Array(k).fill(0);
      want.set(f[0]!.subarray(3, 3 + k));
      for (let i = 1; i < n; i++) for (let j = 0; j < k; j++) want[j] = want[j]! + f[i]![3 + j]!;
      const got = new Float32Array(k + 5);
      sumF32(got, 5, f, 3, k);
      expect(got.subarray(5)).toEqual(want);
      const ints = Array.from({ length: n }, (_, i) => Int32Array.from({ length: k }, (_, j) => (i === 0 ? 2 ** 31 - 1 - j : rnd() * 2 ** 30)));
      const wantI = Int32Array.from(ints[0]!);
      for (let i = 1; i < n; i++) for (let j = 0; j < k; j++) wantI[j] = wantI[j]! + ints[i]![j]!;
      const gotI = new Int32Array(k);
      sumI32(gotI, 0, ints, 0, k);
      expect(gotI).toEqual(wantI);
    });
});

describe('WebAssembly SIMD sums', () => {
  const memory = sharedMemory(2 ** 20);
  const wasm = loadWasmSum(memory);
  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);

  it('load on this Node (else the threads transport falls back to the JavaScript loops)', () => {
    expect(wasm).toBeDefined();
  });

  // Sources at 4 KiB apart (+ 4 bytes: unaligned for SIMD); the target is source `alias` in place, or apart.
  for (const n of [1, 2, 3, 4, 5, 6, 7, 8])
    for (const alias of [-1, n - 1])
      it(`${n} sources${alias >= 0 ? `, in place on source ${alias}` : ''}: bit for bit the sequential float32 / int32 sums`, () => {
        const k = 103;
        const src = Array.from({ length: n }, (_, i) => 4 + i * 4096);
        const target = alias >= 0 ? src[alias]! : 4 + 9 * 4096;
        const scratch = 4 + 10 * 4096;
        let seed = 99 + n;
        const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
        for (const s of src) for (let j = 0; j < k; j++) f32[s / 4 + j] = rnd() * 1e4;
        const want = new Float32Array(k);
        for (let j = 0; j < k; j++) {
          want[j] = f32[src[0]! / 4 + j]!;
          for (let i = 1; i < n; i++) want[j] = want[j]! + f32[src[i]! / 4 + j]!;
        }
        wasm!.sum('float32', target, src, k, scratch);
        expect(f32.slice(target / 4, target / 4 + k)).toEqual(want);

        for (const s of src) for (let j = 0; j < k; j++) i32[s / 4 + j] = Math.round(rnd() * 2 ** 31);
        const wantI = new Int32Array(k);
        for (let j = 0; j < k; j++) {
          wantI[j] = i32[src[0]! / 4 + j]!;
          for (let i = 1; i < n; i++) wantI[j] = wantI[j]! + i32[src[i]! / 4 + j]!;
        }
        wasm!.sum('int32', target, src, k, scratch);
        expect(i32.slice(target / 4, target / 4 + k)).toEqual(wantI);
      });
});

describe('threads transport: failures end the run, naming rank and label', () => {
  it('bad arguments fail on the caller with a message, and the run goes on', async () => {
    const run = await runThreads({ workers: 2, module: PROGRAMS, exportName: 'badCalls' });
    for (const rank of [0, 1]) {
      expect(run.results[rank]).toEqual(badCallMessages(rank));
    }
  });

  it('a message of the wrong length', async () => {
    const e = await runError(runThreads({ workers: 2, module: PROGRAMS, exportName: 'wrongLength' }));
    expect(e.message).toBe("rank 1: recv 'activations': rank 0 sent 3 float32 elements with tag 5, this rank expected 4 float32");
  });

  it('a worker that throws', async () => {
    const t = Date.now();
    const e = await runError(runThreads({ workers: 4, module: PROGRAMS, exportName: 'misbehave', args: () => ({ culprit: 2, mode: 'throw' }) }));
    expect(e.message).toMatch(/^rank 2\b/);
    expect(e.message).toContain('boom in the attention backward');
    expect(e.message).toContain("after all-reduce 'warmup'");
    expect(e.rank).toBe(2);
    expect(Date.now() - t).toBeLessThan(8000);
  });

  it('a collective one rank never joins times out', async () => {
    const t = Date.now();
    const e = await runError(
      runThreads({ workers: 4, module: PROGRAMS, exportName: 'misbehave', timeoutMs: 500, args: () => ({ culprit: 3, mode: 'skip' }) }),
    );
    expect(e.message).toMatch(/^rank [012]: all-reduce 'grad\/attn': timed out after 0\.5 s waiting for rank 3 \(group \[0,1,2,3\]\)/);
    expect(e.label).toBe('grad/attn');
    expect(Date.now() - t).toBeLessThan(8000);
  });

  it('a rank that finishes without joining fails the others at once', async () => {
    const t = Date.now();
    const e = await runError(runThreads({ workers: 3, module: PROGRAMS, exportName: 'misbehave', args: () => ({ culprit: 1, mode: 'finish' }) }));
    expect(e.message).toMatch(/^rank [02]: all-reduce 'grad\/attn': rank 1 finished its program without joining/);
    expect(Date.now() - t).toBeLessThan(8000);
  });

  it('programs that disagree on the collective', async () => {
    const e = await runError(runThreads({ workers: 2, module: PROGRAMS, exportName: 'misbehave', args: () => ({ culprit: 1, mode: 'mismatch' }) }));
    expect(e.message).toMatch(/^rank [01]: (all-reduce|all-gather) 'grad\/attn': rank [01] called (all-gather|all-reduce) on 1000 float32 elements where this rank called/);
  });

  it('a worker that exits', async () => {
    const e = await runError(runThreads({ workers: 2, module: PROGRAMS, exportName: 'misbehave', args: () => ({ culprit: 0, mode: 'exit' }) }));
    expect(e.message).toBe('rank 0: worker exited with code 3 before its program finished');
  });

  it('a module without the program', async () => {
    const e = await runError(runThreads({ workers: 2, module: PROGRAMS, exportName: 'nothing' }));
    expect(e.message).toMatch(/^rank [01]: module .*programs\.js has no exported function 'nothing'/);
  });
});
