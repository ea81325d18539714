/**
 * The MPI transport's Communicator: one per process started by mpirun or srun; global ranks
 * are MPI_COMM_WORLD ranks. A group gets its own MPI communicator the first time it is used
 * (MPI_Comm_create_group, collective over the group's members only, so disjoint groups may
 * be created in any order), cached for the rest of the run.
 *
 * MPI calls block the process's only thread; that is what an MPI rank is for. A watchdog
 * (watchdog.ts) ends the process when one call blocks longer than the timeout.
 */
import type { Buf, CollectiveCounts, CollectiveKind, Communicator, Group } from '../communicator.js';
import { CallCounter } from '../counts.js';
import { CollectiveError } from '../errors.js';
import { allocLike, checkPeer, checkTag, dtypeOf, equalChunk, memberIndex } from '../groups.js';
import { loadLibMpi, type LibMpi } from './libmpi.js';
import type { Watchdog } from './watchdog.js';

/** Tag of MPI_Comm_create_group calls; user tags live on other communicators' message space. */
const CREATE_TAG = 4242;

export class MpiCommunicator implements Communicator {
  readonly transport = 'mpi';
  readonly rank: number;
  readonly size: number;
  readonly world: Group;
  private readonly mpi: LibMpi;
  private readonly comms = new Map<string, bigint>();
  private readonly counter = new CallCounter();
  private last: string | undefined;
  private watchdog: Watchdog | undefined;

  /** Initialises MPI if needed (MPI_Init is called once per process). */
  constructor() {
    this.mpi = loadLibMpi();
    if (!this.mpi.initialized()) this.mpi.init();
    this.rank = this.mpi.commRank(this.mpi.commWorld);
    this.size = this.mpi.commSize(this.mpi.commWorld);
    this.world = Array.from({ length: this.size }, (_, i) => i);
  }

  /** From now on, a call blocking past the watchdog's timeout kills this process (and so the job). */
  attachWatchdog(watchdog: Watchdog): void {
    this.watchdog = watchdog;
  }

  counts(): CollectiveCounts {
    return this.counter.snapshot();
  }

  lastCompleted(): string | undefined {
    return this.last;
  }

  async allReduce<T extends Buf>(buf: T, group: Group, label?: string): Promise<T> {
    return this.run('all-reduce', group, label, buf.byteLength, (comm) => {
      this.mpi.allreduce(this.mpi.inPlace, buf, buf.length, this.type(buf), comm);
      return buf;
    });
  }

  async allGather<T extends Buf>(shard: T, group: Group, label?: string): Promise<T> {
    const out = allocLike(shard, shard.length * group.length);
    return this.run('all-gather', group, label, out.byteLength, (comm) => {
      this.mpi.allgather(shard, shard.length, out, this.type(shard), comm);
      return out;
    });
  }

  async reduceScatter<T extends Buf>(buf: T, group: Group, label?: string): Promise<T> {
    const m = equalChunk(buf, group.length, this.rank, 'reduce-scatter', label);
    const out = allocLike(buf, m);
    return this.run('reduce-scatter', group, label, buf.byteLength, (comm) => {
      this.mpi.reduceScatterBlock(buf, out, m, this.type(buf), comm);
      return out;
    });
  }

  async allToAll<T extends Buf>(buf: T, group: Group, label?: string): Promise<T> {
    const m = equalChunk(buf, group.length, this.rank, 'all-to-all', label);
    const out = allocLike(buf, buf.length);
    return this.run('all-to-all', group, label, buf.byteLength, (comm) => {
      this.mpi.alltoall(buf, m, out, this.type(buf), comm);
      return out;
    });
  }

  async broadcast<T extends Buf>(buf: T, root: number, group: Group, label?: string): Promise<T> {
    const at = group.indexOf(root);
    if (at < 0) throw new CollectiveError(this.rank, 'broadcast', label, `root ${root} is not in group [${group.join(',')}]`);
    return this.run('broadcast', group, label, buf.byteLength, (comm) => {
      this.mpi.bcast(buf, buf.length, this.type(buf), at, comm);
      return buf;
    });
  }

  async barrier(group: Group, label?: string): Promise<void> {
    await this.run('barrier', group, label, 0, (comm) => this.mpi.barrier(comm));
  }

  async send(buf: Buf, peer: number, tag: number, label?: string): Promise<void> {
    checkPeer(peer, this.rank, this.size, 'send', label);
    checkTag(tag, this.rank, 'send', label);
    this.guarded('send', label, () => this.mpi.send(buf, buf.length, this.type(buf), peer, tag, this.mpi.commWorld));
    this.done('send', label, buf.byteLength);
  }

  async recv(peer: number, tag: number, length: number, label?: string): Promise<Float32Array> {
    return this.recvInto(new Float32Array(length), peer, tag, label);
  }

  async recvInto<T extends Buf>(out: T, peer: number, tag: number, label?: string): Promise<T> {
    checkPeer(peer, this.rank, this.size, 'recv', label);
    checkTag(tag, this.rank, 'recv', label);
    const got = this.guarded('recv', label, () => this.mpi.recv(out, out.length, this.type(out), peer, tag, this.mpi.commWorld));
    if (got !== out.length)
      throw new CollectiveError(this.rank, 'recv', label, `rank ${peer} sent ${got} elements with tag ${tag}, this rank expected ${out.length} ${dtypeOf(out)}`);
    this.done('recv', label, out.byteLength);
    return out;
  }

  /** Waits until every process has loaded its program (uncounted, not watched). */
  rendezvous(): void {
    this.mpi.barrier(this.mpi.commWorld);
  }

  /** Ends MPI for this process (after the program; the communicator is unusable afterwards). */
  finalize(): void {
    if (!this.mpi.finalized()) this.mpi.finalize();
  }

  /** Kills every process of the job (the way to fail an MPI run without a hang). */
  abort(code: number): void {
    this.mpi.abort(this.mpi.commWorld, code);
  }

  // --- internals -----------------------------------------------------------------------

  private type(buf: Buf): bigint {
    return buf instanceof Float32Array ? this.mpi.float : this.mpi.int;
  }

  private run<R>(kind: CollectiveKind, group: Group, label: string | undefined, bytes: number, op: (comm: bigint) => R): R {
    memberIndex(group, this.rank, this.size, kind, label);
    const r = this.guarded(kind, label, () => op(this.commFor(group)));
    this.done(kind, label, bytes);
    return r;
  }

  private guarded<R>(kind: CollectiveKind, label: string | undefined, op: () => R): R {
    const name = label ?? `#${this.counter.calls(kind) + 1}`;
    this.watchdog?.enter(kind, name);
    try {
      return op();
    } finally {
      this.watchdog?.leave();
    }
  }

  private done(kind: CollectiveKind, label: string | undefined, bytes: number): void {
    const name = label ?? `#${this.counter.calls(kind) + 1}`;
    this.counter.record(kind, bytes);
    this.last = `${kind} '${name}'`;
  }

  private commFor(group: Group): bigint {
    if (group.length === this.size) return this.mpi.commWorld;
    const key = group.join(',');
    let comm = this.comms.get(key);
    if (comm === undefined) {
      comm = this.mpi.commCreateGroup(this.mpi.commWorld, group, CREATE_TAG);
      this.comms.set(key, comm);
    }
    return comm;
  }
}
