/**
 * Open MPI's libmpi, called through koffi. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT,
 * MPI_SUM, ...) are the addresses of its global objects, so they come from symbol lookup;
 * MPI_IN_PLACE is (void *)1 and MPI_STATUS_IGNORE is NULL. Other MPIs (MPICH) use integer
 * handles and are refused with a clear message.
 */
import { execFileSync } from 'node:child_process';
import koffi from 'koffi';
import { AutoparError } from '../../../errors.js';

type KoffiLib = ReturnType<typeof koffi.load>;

export interface LibMpi {
  readonly path: string;
  readonly commWorld: bigint;
  readonly float: bigint;
  readonly int: bigint;
  readonly opSum: bigint;
  readonly inPlace: bigint;
  initialized(): boolean;
  finalized(): boolean;
  init(): void;
  finalize(): void;
  commRank(comm: bigint): number;
  commSize(comm: bigint): number;
  allreduce(send: bigint | Uint8Array | Float32Array | Int32Array, recv: Float32Array | Int32Array, count: number, type: bigint, comm: bigint): void;
  allgather(send: Float32Array | Int32Array, count: number, recv: Float32Array | Int32Array, type: bigint, comm: bigint): void;
  reduceScatterBlock(send: Float32Array | Int32Array, recv: Float32Array | Int32Array, count: number, type: bigint, comm: bigint): void;
  alltoall(send: Float32Array | Int32Array, count: number, recv: Float32Array | Int32Array, type: bigint, comm: bigint): void;
  bcast(buf: Float32Array | Int32Array, count: number, type: bigint, root: number, comm: bigint): void;
  send(buf: Float32Array | Int32Array, count: number, type: bigint, dest: number, tag: number, comm: bigint): void;
  /** Returns the number of elements received. */
  recv(buf: Float32Array | Int32Array, count: number, type: bigint, source: number, tag: number, comm: bigint): number;
  barrier(comm: bigint): void;
  /** A communicator over `ranks` of `comm`, created collectively by those ranks only. */
  commCreateGroup(comm: bigint, ranks: readonly number[], tag: number): bigint;
  abort(comm: bigint, code: number): void;
}

const NOT_FOUND =
  'the MPI transport needs Open MPI: install it (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev), ' +
  'or load your cluster\'s MPI module (e.g. "module load openmpi"), or set AUTOPAR_LIBMPI to the path of libmpi.so';

/** Candidate names and paths of libmpi, most specific first. */
function candidates(): string[] {
  const out: string[] = [];
  if (process.env.AUTOPAR_LIBMPI) out.push(process.env.AUTOPAR_LIBMPI);
  out.push('libmpi.so.40', 'libmpi.so');
  if (process.platform === 'linux') {
    try {
      const listing = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      for (const m of listing.matchAll(/^\s*libmpi\.so(?:\.\d+)*\s.*=>\s*(\S+)$/gm)) if (m[1]) out.push(m[1]);
    } catch {
      // no ldconfig: the plain names above still go through the dynamic loader's search path
    }
  }
  if (process.platform === 'darwin') out.push('libmpi.dylib', '/opt/homebrew/lib/libmpi.dylib', '/usr/local/lib/libmpi.dylib');
  return [...new Set(out)];
}

function loadFirst(): { lib: KoffiLib; path: string } {
  const tried: string[] = [];
  for (const name of candidates()) {
    try {
      // global: Open MPI's plugins resolve libmpi's symbols when they are loaded.
      return { lib: koffi.load(name, { global: true }), path: name };
    } catch {
      tried.push(name);
    }
  }
  throw new AutoparError('E_USAGE', `libmpi not found (tried ${tried.join(', ')}): ${NOT_FOUND}`);
}

function check(rc: number, fn: string): void {
  if (rc !== 0) throw new AutoparError('E_INTERNAL', `${fn} returned MPI error code ${rc}`);
}

let cached: LibMpi | undefined;

/** Loads libmpi once per process. */
export function loadLibMpi(): LibMpi {
  if (cached) return cached;
  const { lib, path } = loadFirst();
  const handle = (name: string): bigint => {
    let p: unknown;
    try {
      p = lib.symbol(name);
    } catch {
      p = undefined;
    }
    if (typeof p !== 'bigint')
      throw new AutoparError('E_USAGE', `${path} has no symbol ${name}: it is not Open MPI, and ${NOT_FOUND}`);
    return p;
  };
  const f = (decl: string): ((...args: unknown[]) => number) => {
    const fn = lib.func(decl);
    return (...args: unknown[]): number => {
      const r: unknown = fn(...args);
      return typeof r === 'number' ? r : Number(r);
    };
  };
  const initialized = f('int MPI_Initialized(int *flag)');
  const finalizedFn = f('int MPI_Finalized(int *flag)');
  const init = f('int MPI_Init(void *argc, void *argv)');
  const finalize = f('int MPI_Finalize()');
  const commRank = f('int MPI_Comm_rank(void *comm, int *rank)');
  const commSize = f('int MPI_Comm_size(void *comm, int *size)');
  const allreduce = f('int MPI_Allreduce(void *send, void *recv, int count, void *type, void *op, void *comm)');
  const allgather = f('int MPI_Allgather(void *send, int scount, void *stype, void *recv, int rcount, void *rtype, void *comm)');
  const reduceScatterBlock = f('int MPI_Reduce_scatter_block(void *send, void *recv, int count, void *type, void *op, void *comm)');
  const alltoall = f('int MPI_Alltoall(void *send, int scount, void *stype, void *recv, int rcount, void *rtype, void *comm)');
  const bcast = f('int MPI_Bcast(void *buf, int count, void *type, int root, void *comm)');
  const send = f('int MPI_Send(void *buf, int count, void *type, int dest, int tag, void *comm)');
  const recv = f('int MPI_Recv(void *buf, int count, void *type, int source, int tag, void *comm, void *status)');
  const getCount = f('int MPI_Get_count(void *status, void *type, int *count)');
  const barrier = f('int MPI_Barrier(void *comm)');
  const commGroup = f('int MPI_Comm_group(void *comm, void *group)');
  const groupIncl = f('int MPI_Group_incl(void *group, int n, int *ranks, void *newgroup)');
  const groupFree = f('int MPI_Group_free(void *group)');
  const commCreateGroup = f('int MPI_Comm_create_group(void *comm, void *group, int tag, void *newcomm)');
  const abort = f('int MPI_Abort(void *comm, int code)');

  const int1 = (): Int32Array => new Int32Array(1);
  const ptr1 = (): BigInt64Array => new BigInt64Array(1);
  cached = {
    path,
    commWorld: handle('ompi_mpi_comm_world'),
    float: handle('ompi_mpi_float'),
    int: handle('ompi_mpi_int'),
    opSum: handle('ompi_mpi_op_sum'),
    inPlace: 1n,
    initialized() {
      const flag = int1();
      check(initialized(flag), 'MPI_Initialized');
      return flag[0] !== 0;
    },
    finalized() {
      const flag = int1();
      check(finalizedFn(flag), 'MPI_Finalized');
      return flag[0] !== 0;
    },
    init: () => check(init(null, null), 'MPI_Init'),
    finalize: () => check(finalize(), 'MPI_Finalize'),
    commRank(comm) {
      const out = int1();
      check(commRank(comm, out), 'MPI_Comm_rank');
      return out[0]!;
    },
    commSize(comm) {
      const out = int1();
      check(commSize(comm, out), 'MPI_Comm_size');
      return out[0]!;
    },
    allreduce: (s, r, count, type, comm) => check(allreduce(s, r, count, type, cached!.opSum, comm), 'MPI_Allreduce'),
    allgather: (s, count, r, type, comm) => check(allgather(s, count, type, r, count, type, comm), 'MPI_Allgather'),
    reduceScatterBlock: (s, r, count, type, comm) =>
      check(reduceScatterBlock(s, r, count, type, cached!.opSum, comm), 'MPI_Reduce_scatter_block'),
    alltoall: (s, count, r, type, comm) => check(alltoall(s, count, type, r, count, type, comm), 'MPI_Alltoall'),
    bcast: (buf, count, type, root, comm) => check(bcast(buf, count, type, root, comm), 'MPI_Bcast'),
    send: (buf, count, type, dest, tag, comm) => check(send(buf, count, type, dest, tag, comm), 'MPI_Send'),
    recv(buf, count, type, source, tag, comm) {
      // Open MPI's MPI_Status is 24 bytes; 64 leaves room for any version.
      const status = new Uint8Array(64);
      check(recv(buf, count, type, source, tag, comm, status), 'MPI_Recv');
      const got = int1();
      check(getCount(status, type, got), 'MPI_Get_count');
      return got[0]!;
    },
    barrier: (comm) => check(barrier(comm), 'MPI_Barrier'),
    commCreateGroup(comm, ranks, tag) {
      const world = ptr1();
      check(commGroup(comm, world), 'MPI_Comm_group');
      const sub = ptr1();
      check(groupIncl(world[0]!, ranks.length, Int32Array.from(ranks), sub), 'MPI_Group_incl');
      const out = ptr1();
      check(commCreateGroup(comm, sub[0]!, tag, out), 'MPI_Comm_create_group');
      check(groupFree(sub), 'MPI_Group_free');
      check(groupFree(world), 'MPI_Group_free');
      return out[0]!;
    },
    abort: (comm, code) => void abort(comm, code),
  };
  return cached;
}
