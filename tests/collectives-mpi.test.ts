/**
 * The MPI transport (Open MPI through koffi) under mpirun on this machine: the same programs
 * and checks as the threads transport (exact results on 2, 3 and 4 ranks, subgroups, uneven
 * lengths, byte counts), and failures that end the job with an error naming rank and label.
 * Skipped, saying why, only when mpirun is not on PATH (.ci/run installs Open MPI).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunError } from '../src/runtime/collectives/errors.js';
import { findMpirun, runMpi } from '../src/runtime/collectives/mpi/launcher.js';
import { badCallMessages, cases, expected, expectedCounts } from './fixtures/collectives/cases.js';
import { ROOT } from './helpers/cli.js';

const PROGRAMS = path.join(ROOT, 'dist', 'tests', 'fixtures', 'collectives', 'programs.js');
const MPIRUN = findMpirun();
const title = MPIRUN
  ? 'MPI transport'
  : 'MPI transport (SKIPPED: mpirun is not on PATH; install openmpi-bin and libopenmpi-dev, as .ci/run does)';
if (!MPIRUN) console.warn(title);

async function runError(p: Promise<unknown>): Promise<RunError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RunError) return e;
    throw e;
  }
  throw new Error('the run succeeded but should have failed');
}

describe.skipIf(!MPIRUN)(title, () => {
  for (const processes of [2, 3, 4])
    it(`${processes} ranks: every collective equals the sequential computation, bytes as nccl-tests`, async () => {
      const run = await runMpi({ processes, module: PROGRAMS, exportName: 'runCases', timeoutMs: 20_000 });
      const cs = cases(processes);
      for (let rank = 0; rank < processes; rank++) {
        const got = run.results[rank];
        if (!Array.isArray(got)) throw new Error(`rank ${rank} returned ${String(got)}`);
        expect(got).toHaveLength(cs.length);
        for (let ci = 0; ci < cs.length; ci++) {
          const want = expected(cs, ci, rank, processes);
          const g: unknown = got[ci];
          expect(g, `${cs[ci]!.name} on rank ${rank}`).toBeInstanceOf(want.constructor);
          expect(g, `${cs[ci]!.name} on rank ${rank}`).toEqual(want);
        }
        const counts = expectedCounts(cs, rank);
        counts.barrier = { count: 1, bytes: 0 };
        expect(run.counts[rank]).toEqual(counts);
      }
    });

  it('bad arguments fail on the caller with a message, and the run goes on', async () => {
    const run = await runMpi({ processes: 2, module: PROGRAMS, exportName: 'badCalls' });
    for (const rank of [0, 1]) {
      expect(run.results[rank]).toEqual(badCallMessages(rank));
    }
  });

  it('a rank that throws aborts the job, naming the rank and where it stood', async () => {
    const t = Date.now();
    const e = await runError(runMpi({ processes: 3, module: PROGRAMS, exportName: 'misbehave', args: { culprit: 1, mode: 'throw' } }));
    expect(e.message).toBe("rank 1: boom in the attention backward (after all-reduce 'warmup')");
    expect(e.rank).toBe(1);
    expect(Date.now() - t).toBeLessThan(15_000);
  });

  it('a rank that exits ends the job, naming the rank', async () => {
    const e = await runError(runMpi({ processes: 2, module: PROGRAMS, exportName: 'misbehave', args: { culprit: 0, mode: 'exit' } }));
    expect(e.message).toBe('rank 0: process exited with code 3 before its program finished');
    expect(e.rank).toBe(0);
  });

  it('a collective one rank never joins times out, naming rank and label', async () => {
    const t = Date.now();
    const e = await runError(
      runMpi({ processes: 3, module: PROGRAMS, exportName: 'misbehave', timeoutMs: 500, args: { culprit: 2, mode: 'skip' } }),
    );
    expect(e.message).toMatch(/^rank [01]: all-reduce 'grad\/attn': timed out after 0\.5 s/);
    expect(e.label).toBe('grad/attn');
    expect(Date.now() - t).toBeLessThan(15_000);
  });
});
