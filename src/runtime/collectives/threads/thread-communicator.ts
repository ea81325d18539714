/**
 * The threads transport's Communicator, used inside a worker thread. Collectives move data
 * through the shared regions of shared-state.ts:
 *
 * - every collective starts with a barrier after which members compare call signatures
 *   (kind, element type, length, root), so a mismatched program fails with a message
 *   instead of mixing buffers;
 * - a buffer is streamed in segments of at most one region; within a segment each rank
 *   copies its part in, meets the group at a barrier, then reads what it needs straight
 *   from its peers' regions (all-reduce: rank i sums piece i of the segment over the group,
 *   in group order, in place in its own region, with WebAssembly SIMD where available, and
 *   after a second barrier everyone copies the n pieces out). Every element is read and written a bounded number of times whatever n
 *   is, which beats a ring on shared memory, and no rank holds more than its two regions.
 * - a last barrier ends every collective, so a region is never refilled while a peer of
 *   the previous collective may still read it.
 *
 * Waiting uses Atomics.wait, so this class must only run in worker threads (never on the
 * main thread, whose event loop would block). Each wait gives up after `timeoutMs` without
 * progress, at once when the awaited peer has finished or failed, and when the launcher
 * aborts the run; the error names this rank, the collective and its label.
 */
import { isMainThread } from 'node:worker_threads';
import {
  COLLECTIVE_KINDS,
  type Buf,
  type CollectiveCounts,
  type CollectiveKind,
  type Communicator,
  type Group,
} from '../communicator.js';
import { CallCounter } from '../counts.js';
import { CollectiveError } from '../errors.js';
import { allocLike, checkPeer, checkTag, dtypeOf, equalChunk, memberIndex, pieceStart } from '../groups.js';
import {
  ControlLayout,
  FINISHED,
  P2P_DST,
  P2P_DTYPE,
  P2P_LEN,
  P2P_STATE,
  P2P_TAG,
  P2P_TOTAL,
  RUNNING,
  SIG_DTYPE,
  SIG_KIND,
  SIG_LENGTH,
  SIG_PARAM,
  regionOffset,
  regionViews,
  scratchOffset,
  type SharedInit,
} from './shared-state.js';
import { sumF32, sumI32 } from './sum-kernels.js';
import { loadWasmSum, type WasmSum } from './wasm-sum.js';

/** Longest single Atomics.wait, so aborts and finished peers are noticed promptly. */
const POLL_MS = 50;

interface Call {
  readonly kind: CollectiveKind;
  readonly label: string;
  readonly group: Group | undefined;
}

function dtypeCode(buf: Buf): number {
  return buf instanceof Float32Array ? 1 : 2;
}

export class ThreadCommunicator implements Communicator {
  readonly transport = 'threads';
  readonly size: number;
  readonly world: Group;
  private readonly ctl: Int32Array;
  private readonly layout: ControlLayout;
  private readonly f32: Float32Array[][];
  private readonly i32: Int32Array[][];
  private readonly slotElems: number;
  private readonly shared: SharedInit;
  private readonly wasm: WasmSum | undefined;
  private readonly counter = new CallCounter();
  private last: string | undefined;

  constructor(
    readonly rank: number,
    init: SharedInit,
    private timeoutMs: number,
    /** 'wasm' (SIMD, when the engine has it) or 'js' (the portable loops). */
    kernels: 'wasm' | 'js' = 'wasm',
  ) {
    // Atomics.wait on the main thread would freeze its event loop (and vitest's RPC).
    if (isMainThread) throw new Error('ThreadCommunicator runs in worker threads only: start workers with runThreads');
    this.size = init.size;
    this.world = Array.from({ length: init.size }, (_, i) => i);
    this.ctl = new Int32Array(init.control);
    this.layout = new ControlLayout(init.size);
    ({ f32: this.f32, i32: this.i32 } = regionViews(init));
    this.slotElems = init.slotBytes / 4;
    this.shared = init;
    this.wasm = kernels === 'wasm' ? loadWasmSum(init.memory) : undefined;
  }

  counts(): CollectiveCounts {
    return this.counter.snapshot();
  }

  async allReduce<T extends Buf>(buf: T, group: Group, label?: string): Promise<T> {
    const call = this.call('all-reduce', group, label);
    const me = memberIndex(group, this.rank, this.size, call.kind, call.label);
    const n = group.length;
    if (n > 1) {
      this.begin(call, group, buf, 0);
      const views = this.views(buf);
      const mine = (region: number): Buf => views[this.rank]![region]!;
      for (let off = 0, region = 0; off < buf.length; off += this.slotElems, region ^= 1) {
        const k = Math.min(this.slotElems, buf.length - off);
        mine(region).set(buf.subarray(off, off + k));
        this.sync(call, group);
        // This rank's piece: summed over the group in place in its region (published there
        // for the others), and kept in buf.
        const a = pieceStart(k, n, me);
        const b = pieceStart(k, n, me + 1);
        this.sumPiece(buf, group, region, a, b - a);
        buf.set(mine(region).subarray(a, b), off + a);
        this.sync(call, group);
        for (let i = 0; i < n; i++) {
          if (i === me) continue;
          const pa = pieceStart(k, n, i);
          const pb = pieceStart(k, n, i + 1);
          buf.set(views[group[i]!]![region]!.subarray(pa, pb), off + pa);
        }
      }
      this.sync(call, group);
    }
    this.done(call, buf.byteLength);
    return buf;
  }

  async reduceScatter<T extends Buf>(buf: T, group: Group, label?: string): Promise<T> {
    const call = this.call('reduce-scatter', group, label);
    const me = memberIndex(group, this.rank, this.size, call.kind, call.label);
    const n = group.length;
    const m = equalChunk(buf, n, this.rank, call.kind, call.label);
    const out = allocLike(buf, m);
    if (n === 1) out.set(buf);
    else {
      this.begin(call, group, buf, 0);
      const views = this.views(buf);
      const step = Math.floor(this.slotElems / n);
      for (let off = 0, region = 0; off < m; off += step, region ^= 1) {
        const k = Math.min(step, m - off);
        const mine = views[this.rank]![region]!;
        for (let i = 0; i < n; i++) mine.set(buf.subarray(i * m + off, i * m + off + k), i * k);
        this.sync(call, group);
        this.sumPiece(buf, group, region, me * k, k);
        out.set(mine.subarray(me * k, me * k + k), off);
      }
      this.sync(call, group);
    }
    this.done(call, buf.byteLength);
    return out;
  }

  async allGather<T extends Buf>(shard: T, group: Group, label?: string): Promise<T> {
    const call = this.call('all-gather', group, label);
    memberIndex(group, this.rank, this.size, call.kind, call.label);
    const n = group.length;
    const m = shard.length;
    const out = allocLike(shard, n * m);
    if (n === 1) out.set(shard);
    else {
      this.begin(call, group, shard, 0);
      const views = this.views(shard);
      for (let off = 0, region = 0; off < m; off += this.slotElems, region ^= 1) {
        const k = Math.min(this.slotElems, m - off);
        views[this.rank]![region]!.set(shard.subarray(off, off + k));
        this.sync(call, group);
        for (let i = 0; i < n; i++) out.set(views[group[i]!]![region]!.subarray(0, k), i * m + off);
      }
      this.sync(call, group);
    }
    this.done(call, out.byteLength);
    return out;
  }

  async allToAll<T extends Buf>(buf: T, group: Group, label?: string): Promise<T> {
    const call = this.call('all-to-all', group, label);
    const me = memberIndex(group, this.rank, this.size, call.kind, call.label);
    const n = group.length;
    const m = equalChunk(buf, n, this.rank, call.kind, call.label);
    const out = allocLike(buf, buf.length);
    if (n === 1) out.set(buf);
    else {
      this.begin(call, group, buf, 0);
      const views = this.views(buf);
      const step = Math.floor(this.slotElems / n);
      for (let off = 0, region = 0; off < m; off += step, region ^= 1) {
        const k = Math.min(step, m - off);
        const mine = views[this.rank]![region]!;
        for (let i = 0; i < n; i++) mine.set(buf.subarray(i * m + off, i * m + off + k), i * k);
        this.sync(call, group);
        for (let i = 0; i < n; i++) out.set(views[group[i]!]![region]!.subarray(me * k, me * k + k), i * m + off);
      }
      this.sync(call, group);
    }
    this.done(call, buf.byteLength);
    return out;
  }

  async broadcast<T extends Buf>(buf: T, root: number, group: Group, label?: string): Promise<T> {
    const call = this.call('broadcast', group, label);
    memberIndex(group, this.rank, this.size, call.kind, call.label);
    if (!group.includes(root))
      throw new CollectiveError(this.rank, call.kind, call.label, `root ${root} is not in group [${group.join(',')}]`);
    if (group.length > 1) {
      this.begin(call, group, buf, root);
      const views = this.views(buf);
      for (let off = 0, region = 0; off < buf.length; off += this.slotElems, region ^= 1) {
        const k = Math.min(this.slotElems, buf.length - off);
        if (this.rank === root) views[root]![region]!.set(buf.subarray(off, off + k));
        this.sync(call, group);
        if (this.rank !== root) buf.set(views[root]![region]!.subarray(0, k), off);
      }
      this.sync(call, group);
    }
    this.done(call, buf.byteLength);
    return buf;
  }

  async barrier(group: Group, label?: string): Promise<void> {
    const call = this.call('barrier', group, label);
    memberIndex(group, this.rank, this.size, call.kind, call.label);
    this.sync(call, group);
    this.done(call, 0);
  }

  /**
   * Streams `buf` through this rank's first region, one piece at a time: each piece waits
   * until the receiver has taken the previous one, and the call returns once the last piece
   * is taken (a synchronous send), so the region is free for what follows.
   */
  async send(buf: Buf, peer: number, tag: number, label?: string): Promise<void> {
    const call = this.call('send', undefined, label);
    checkPeer(peer, this.rank, this.size, call.kind, call.label);
    checkTag(tag, this.rank, call.kind, call.label);
    const views = this.views(buf);
    const state = this.layout.p2p(this.rank, P2P_STATE);
    const word = (w: number): number => this.layout.p2p(this.rank, w);
    let off = 0;
    do {
      const k = Math.min(this.slotElems, buf.length - off);
      this.waitFor(call, state, (v) => v === 0, peer);
      views[this.rank]![0]!.set(buf.subarray(off, off + k));
      Atomics.store(this.ctl, word(P2P_DST), peer);
      Atomics.store(this.ctl, word(P2P_TAG), tag);
      Atomics.store(this.ctl, word(P2P_LEN), k);
      Atomics.store(this.ctl, word(P2P_TOTAL), buf.length);
      Atomics.store(this.ctl, word(P2P_DTYPE), dtypeCode(buf));
      Atomics.store(this.ctl, state, 1);
      Atomics.notify(this.ctl, state);
      off += k;
    } while (off < buf.length);
    this.waitFor(call, state, (v) => v === 0, peer);
    this.done(call, buf.byteLength);
  }

  async recv(peer: number, tag: number, length: number, label?: string): Promise<Float32Array> {
    return this.recvInto(new Float32Array(length), peer, tag, label);
  }

  async recvInto<T extends Buf>(out: T, peer: number, tag: number, label?: string): Promise<T> {
    const call = this.call('recv', undefined, label);
    checkPeer(peer, this.rank, this.size, call.kind, call.label);
    checkTag(tag, this.rank, call.kind, call.label);
    const views = this.views(out);
    const word = (w: number): number => this.layout.p2p(peer, w);
    const state = word(P2P_STATE);
    const mine = (v: number): boolean =>
      v === 1 && Atomics.load(this.ctl, word(P2P_DST)) === this.rank && Atomics.load(this.ctl, word(P2P_TAG)) === tag;
    let off = 0;
    do {
      this.waitFor(call, state, mine, peer);
      const total = Atomics.load(this.ctl, word(P2P_TOTAL));
      const dtype = Atomics.load(this.ctl, word(P2P_DTYPE));
      if (total !== out.length || dtype !== dtypeCode(out))
        throw new CollectiveError(
          this.rank,
          call.kind,
          call.label,
          `rank ${peer} sent ${total} ${dtype === 1 ? 'float32' : 'int32'} elements with tag ${tag}, ` +
            `this rank expected ${out.length} ${dtypeOf(out)}`,
        );
      const k = Atomics.load(this.ctl, word(P2P_LEN));
      out.set(views[peer]![0]!.subarray(0, k), off);
      off += k;
      Atomics.store(this.ctl, state, 0);
      Atomics.notify(this.ctl, state);
    } while (off < out.length);
    this.done(call, out.byteLength);
    return out;
  }

  /**
   * Waits until every worker has started and loaded its program, uncounted and with its own
   * timeout: a slow start on a loaded machine must not count against the first collective's.
   */
  rendezvous(timeoutMs: number): void {
    const saved = this.timeoutMs;
    this.timeoutMs = timeoutMs;
    try {
      this.sync({ kind: 'barrier', label: 'start of the run', group: this.world }, this.world);
    } finally {
      this.timeoutMs = saved;
    }
  }

  /** The last collective this rank completed, e.g. "all-reduce 'warmup'" (for error messages). */
  lastCompleted(): string | undefined {
    return this.last;
  }

  // --- internals -----------------------------------------------------------------------

  private done(call: Call, bytes: number): void {
    this.counter.record(call.kind, bytes);
    this.last = `${call.kind} '${call.label}'`;
  }

  private call(kind: CollectiveKind, group: Group | undefined, label: string | undefined): Call {
    return { kind, group, label: label ?? `#${this.counter.calls(kind) + 1}` };
  }

  /**
   * Elements [a, a+k) of this rank's region become their sum over the group, in group order
   * (the peers only read other elements of this region meanwhile). `like` gives the type.
   */
  private sumPiece(like: Buf, group: Group, region: number, a: number, k: number): void {
    if (this.wasm) {
      const at = (p: number): number => regionOffset(this.shared, p, region) + 4 * a;
      this.wasm.sum(dtypeOf(like), at(this.rank), group.map(at), k, scratchOffset(this.shared, this.rank));
      return;
    }
    const tmp = allocLike(like, k);
    if (tmp instanceof Float32Array) sumF32(tmp, 0, group.map((p) => this.f32[p]![region]!), a, k);
    else sumI32(tmp, 0, group.map((p) => this.i32[p]![region]!), a, k);
    this.views(like)[this.rank]![region]!.set(tmp, a);
  }

  private views(buf: Buf): Buf[][] {
    return buf instanceof Float32Array ? this.f32 : this.i32;
  }

  /** Publishes this call's signature, meets the group, and checks every member made the same call. */
  private begin(call: Call, group: Group, buf: Buf, param: number): void {
    const sig = [COLLECTIVE_KINDS.indexOf(call.kind), dtypeCode(buf), buf.length, param];
    const words = [SIG_KIND, SIG_DTYPE, SIG_LENGTH, SIG_PARAM];
    words.forEach((w, i) => Atomics.store(this.ctl, this.layout.sig(this.rank, w), sig[i]!));
    this.sync(call, group);
    for (const p of group) {
      if (p === this.rank) continue;
      const theirs = words.map((w) => Atomics.load(this.ctl, this.layout.sig(p, w)));
      if (theirs.every((v, i) => v === sig[i])) continue;
      const describe = (s: number[]): string =>
        `${COLLECTIVE_KINDS[s[0]!] ?? '?'} on ${s[2]} ${s[1] === 1 ? 'float32' : 'int32'} elements` +
        (call.kind === 'broadcast' ? ` from root ${s[3]}` : '');
      throw new CollectiveError(
        this.rank,
        call.kind,
        call.label,
        `rank ${p} called ${describe(theirs)} where this rank called ${describe(sig)} (group [${group.join(',')}]): ` +
          'the device programs disagree',
      );
    }
  }

  /** Barrier over `group` from pairwise counters: no shared state per group is needed. */
  private sync(call: Call, group: Group): void {
    for (const p of group) {
      if (p === this.rank) continue;
      const w = this.layout.sync(this.rank, p);
      Atomics.add(this.ctl, w, 1);
      Atomics.notify(this.ctl, w);
    }
    for (const p of group) {
      if (p === this.rank) continue;
      const target = Atomics.load(this.ctl, this.layout.sync(this.rank, p));
      this.waitFor(call, this.layout.sync(p, this.rank), (v) => v >= target, p);
    }
  }

  /** Blocks until `ok(ctl[index])`, failing fast on abort, on a finished/failed `peer`, or on timeout. */
  private waitFor(call: Call, index: number, ok: (v: number) => boolean, peer: number): void {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const v = Atomics.load(this.ctl, index);
      if (ok(v)) return;
      if (Atomics.load(this.ctl, this.layout.abort) !== 0)
        throw new CollectiveError(this.rank, call.kind, call.label, 'run aborted because another worker failed');
      const status = Atomics.load(this.ctl, this.layout.status(peer));
      if (status !== RUNNING) {
        if (ok(Atomics.load(this.ctl, index))) return; // it finished right after its last step
        const what = status === FINISHED ? 'finished its program' : 'failed';
        throw new CollectiveError(this.rank, call.kind, call.label, `rank ${peer} ${what} without joining${this.groupText(call)}`, status === FINISHED ? undefined : peer);
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new CollectiveError(
          this.rank,
          call.kind,
          call.label,
          `timed out after ${(this.timeoutMs / 1000).toFixed(1)} s waiting for rank ${peer}${this.groupText(call)}`,
        );
      Atomics.wait(this.ctl, index, v, Math.min(left, POLL_MS));
    }
  }

  private groupText(call: Call): string {
    return call.group ? ` (group [${call.group.join(',')}])` : '';
  }
}
