/** The runtime's collective communication library: one interface, two transports (docs/runtime.md). */
export type { Buf, CollectiveCounts, CollectiveKind, Communicator, Group, KindCount, WorkerProgram } from './communicator.js';
export { COLLECTIVE_KINDS } from './communicator.js';
export { addCounts } from './counts.js';
export { CollectiveError, RunError } from './errors.js';
export { runThreads, DEFAULT_TIMEOUT_MS, type ThreadRunOptions, type ThreadRunResult } from './threads/launcher.js';
export { findMpirun, launchedByMpi, mpirunCommand, runMpi, type MpiRunOptions, type MpiRunResult } from './mpi/launcher.js';
