/** `autopar worker DIR [--steps N] [--reference REFDIR]`: one rank of a plan, started by mpirun or srun. */
import path from 'node:path';
import type { Command } from 'commander';
import { AutoparError } from '../errors.js';
import { launchedByMpi } from '../runtime/collectives/mpi/launcher.js';
import { runCommand } from './output.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('one rank of a compiled plan under MPI: mpirun -np N autopar worker DIR (or srun); prints a JSON line per rank')
    .argument('<dir>', 'the folder `autopar compile --out` wrote (plan.json), the same path on every host')
    .option('--steps <n>', 'training steps', '1')
    .option('--reference <dir>', 'take inputs and targets from a reference folder')
    .option('--debug', 'stack traces on errors')
    .action(async (dir: string, o: { steps: string; reference?: string; debug?: boolean }) => {
      await runCommand(o.debug === true, async () => {
        if (!launchedByMpi()) throw new AutoparError('E_USAGE', `autopar worker runs as one rank under mpirun or srun (e.g. mpirun -np N autopar worker ${dir}); to run a plan on this machine use autopar run ${dir}`);
        const steps = Number(o.steps);
        if (!Number.isInteger(steps) || steps < 1) throw new AutoparError('E_USAGE', `--steps ${o.steps}: give a whole number of steps, at least 1`);
        // Loaded here, not at start-up: it brings libmpi in through koffi.
        const { runRank } = await import('../runtime/collectives/mpi/mpi-main.js');
        // The runtime too: it brings tfjs in (see main.ts).
        const { isMeshPlanDir } = await import('../runtime/spmd/run-mesh.js');
        const { toWireTensor } = await import('../runtime/spmd/wire.js');
        const rank = Number(process.env.OMPI_COMM_WORLD_RANK ?? process.env.PMIX_RANK ?? process.env.PMI_RANK ?? process.env.SLURM_PROCID ?? 0);
        if (isMeshPlanDir(dir)) {
          // A one-mesh plan: every rank prepares the same inputs and weight blocks, runs its device.
          const { prepareMeshRun } = await import('../runtime/spmd/run-mesh.js');
          const { default: meshWorker, globalLosses, readDeviceProgram } = await import('../runtime/spmd/mesh-worker.js');
          const prep = prepareMeshRun(dir, { steps, reference: o.reference ? path.resolve(o.reference) : undefined });
          const feeds = [...prep.feeds].map(([k, t]) => [k, toWireTensor(t)] as const);
          // An inference plan has no loss: its ranks report none (`run` puts its outputs together).
          const loss = await runRank(async (comm, a: { dir: string; steps: number }) => {
            const result = await meshWorker(comm, { ...a, feeds });
            return prep.tg ? globalLosses(comm, readDeviceProgram(a.dir, comm.rank), result) : [];
          }, { dir: path.resolve(dir), steps });
          if (loss === undefined) {
            process.exitCode = 1;
            return;
          }
          process.stdout.write(JSON.stringify({ rank, loss }) + '\n');
          return;
        }
        const { default: planWorker } = await import('../runtime/pipeline/plan-worker.js');
        const args = { dir: path.resolve(dir), steps, reference: o.reference ? path.resolve(o.reference) : undefined };
        const result = await runRank(planWorker, args);
        if (result === undefined) {
          process.exitCode = 1;
          return;
        }
        process.stdout.write(JSON.stringify({ rank, loss: result.losses }) + '\n');
      });
    });
}
