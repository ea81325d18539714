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
import { cases, expected, expectedCounts } from './fixtures/collectives/cases.js';
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
    for (const slotBytes of [256, undefined])
      it(`${workers} workers, ${slotBytes ? `${slotBytes}-byte segments` : 'default segments'}`, async () => {
        const run = await runThreads({ workers, module: PROGRAMS, exportName: 'runCases', slotBytes, timeoutMs: 10_000 });
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

  it('counts bytes as nccl-tests: all-gather counts the gathered output', async () => {
    const run = await runThreads({ workers: 4, module: PROGRAMS, exportName: 'runCases' });
    // Spot-check the formula on its own, independently of expectedCounts.
    const cs = cases(4);
    const ag = cs.filter((c) => c.kind === 'all-gather');
    const bytes = ag.reduce((s, c) => s + 4 * c.length * c.partition[0]!.length, 0);
    expect(run.counts[0]!['all-gather']).toEqual({ count: ag.length, bytes });
  });
});

describe('threads transport: failures end the run, naming rank and label', () => {
  it('a worker that throws', async () => {
    const t = Date.now();
    const e = await runError(runThreads({ workers: 4, module: PROGRAMS, exportName: 'misbehave', args: () => ({ culprit: 2, mode: 'throw' }) }));
    expect(e.message).toMatch(/^rank 2\b/);
    expect(e.message).toContain('boom in the attention backward');
    expect(e.message).toContain("after all-reduce 'warmup'");
    expect(e.rank).toBe(2);
    expect(Date.now() - t).toBeLessThan(5000);
  });

  it('a collective one rank never joins times out', async () => {
    const t = Date.now();
    const e = await runError(
      runThreads({ workers: 4, module: PROGRAMS, exportName: 'misbehave', timeoutMs: 500, args: () => ({ culprit: 3, mode: 'skip' }) }),
    );
    expect(e.message).toMatch(/^rank [012]: all-reduce 'grad\/attn': timed out after 0\.5 s waiting for rank 3 \(group \[0,1,2,3\]\)/);
    expect(e.label).toBe('grad/attn');
    expect(Date.now() - t).toBeLessThan(5000);
  });

  it('a rank that finishes without joining fails the others at once', async () => {
    const t = Date.now();
    const e = await runError(runThreads({ workers: 3, module: PROGRAMS, exportName: 'misbehave', args: () => ({ culprit: 1, mode: 'finish' }) }));
    expect(e.message).toMatch(/^rank [02]: all-reduce 'grad\/attn': rank 1 finished its program without joining/);
    expect(Date.now() - t).toBeLessThan(5000);
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
