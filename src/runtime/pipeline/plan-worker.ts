/**
 * One rank of `autopar run --transport mpi` (or of `mpirun -np N node mpi-main.js
 * plan-worker.js` across hosts): rebuilds the run from plan.json like every other rank
 * and runs the stage of its rank.
 */
import type { Communicator } from '../collectives/communicator.js';
import { preparePlan } from './run-plan.js';
import { stageArgsFor } from './run-pipeline.js';
import runStage from './stage-worker.js';
import { toWire, type WireStageResult } from './wire.js';

export default async function planWorker(comm: Communicator, args: { dir: string; steps: number; reference?: string }): Promise<WireStageResult> {
  const prepared = preparePlan(args.dir, { steps: args.steps, reference: args.reference });
  const stage = stageArgsFor(prepared.pipeline).args[comm.rank];
  if (!stage) throw new Error(`rank ${comm.rank}: the plan has ${prepared.plan.stages.length} stages`);
  return toWire(await runStage(comm, stage));
}
