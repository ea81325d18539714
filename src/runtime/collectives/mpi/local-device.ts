/**
 * One GPU per process: under mpirun or srun, each rank on a host sees only the GPU of
 * its local rank (CUDA_VISIBLE_DEVICES), as NCCL-based launchers do, so tfjs-node-gpu
 * (picked up automatically when installed) puts that rank's work on its own device. A
 * list the user already gave (e.g. "4,5,6,7") is indexed by the local rank. Must run
 * before any backend is loaded (tfjs-node-gpu reads the variable when it loads CUDA).
 */
export function localRank(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.OMPI_COMM_WORLD_LOCAL_RANK ?? env.MPI_LOCALRANKID ?? env.SLURM_LOCALID ?? env.PMI_LOCAL_RANK ?? env.LOCAL_RANK;
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** The CUDA_VISIBLE_DEVICES this rank should run with, or undefined to leave it alone. */
export function visibleDeviceFor(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const local = localRank(env);
  if (local === undefined) return undefined;
  const given = env.CUDA_VISIBLE_DEVICES?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (given && given.length > 0) return given[local % given.length];
  return String(local);
}

/** Sets CUDA_VISIBLE_DEVICES for this rank (see visibleDeviceFor); returns what it set. */
export function pinLocalDevice(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const d = visibleDeviceFor(env);
  if (d !== undefined) env.CUDA_VISIBLE_DEVICES = d;
  return d;
}
