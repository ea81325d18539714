/**
 * One resharding step (sharding/steps.ts) as instructions on one device: the
 * collective over the devices that differ only on the step's axes, with local chunk
 * permutations around it where the library's member order (sorted device ids) is not
 * the block order the spec gives, and the local steps (keep one's block, pad a block
 * with zeros into a partial sum) as compute instructions.
 */
import { AutoparError } from '../../errors.js';
import type { DType } from '../../ir/dtype.js';
import type { MeshShape } from '../../sharding/mesh.js';
import { blockIndex, meshCoords } from '../../sharding/host-shard.js';
import type { ReshardStep } from '../../sharding/reshard.js';
import type { ShardingSpec } from '../../sharding/spec.js';
import type { ProgramBuilder } from '../builder.js';
import { gatheredOrder, groupOver, scatteredOrder } from './mesh-groups.js';

export interface StepContext {
  readonly builder: ProgramBuilder;
  readonly mesh: MeshShape;
  readonly devices: readonly number[];
  readonly pos: number;
  readonly coords: ReadonlyMap<string, number>;
  freshName(base: string): string;
  declare(name: string, value: string, spec: ShardingSpec, dtype?: DType, shape?: readonly number[]): string;
  /** Tags of point-to-point messages: the same sequence on every device (all lower the same steps in order). */
  nextTag(): number;
}

const sizeOf = (mesh: MeshShape, a: string): number => mesh.axes.find((x) => x.name === a)?.size ?? 1;

/** Lowers `st` applied to local tensor `t` (in `spec`); returns the tensor holding the result (in `st.spec`). */
export function lowerStep(ctx: StepContext, st: ReshardStep, t: string, spec: ShardingSpec, value: string, consumer: string, globalShape: readonly number[]): string {
  const b = ctx.builder;
  const out = (): string => ctx.declare(ctx.freshName(value), value, st.spec);
  const permuted = (input: string, axis: number, order: readonly number[] | undefined): string => {
    if (!order) return input;
    const d = b.decl(input);
    const name = ctx.declare(ctx.freshName(`${value}.chunks`), value, spec, d.dtype, d.shape);
    b.compute('ChunkPermute', consumer, [input], [name], { axis, order: [...order] });
    return name;
  };
  const coll = { value, consumer };
  // Over axes of size 1 a collective moves nothing (plans list none: reshardCollectives).
  const groupSize = st.axes.reduce((p, a) => p * sizeOf(ctx.mesh, a), 1);
  if (groupSize === 1 && st.kind !== 'local-slice' && st.kind !== 'local-partial') {
    const o = out();
    b.compute('Identity', consumer, [t], [o]);
    return o;
  }
  switch (st.kind) {
    case 'all-reduce': {
      const g = groupOver(ctx.mesh, ctx.devices, ctx.pos, st.axes);
      const o = out();
      b.collective({ op: 'all-reduce' }, { ...coll, input: t, output: o, group: g.devices });
      return o;
    }
    case 'all-gather': {
      const g = groupOver(ctx.mesh, ctx.devices, ctx.pos, st.axes);
      const order = gatheredOrder(g);
      const o = out();
      if (!order) {
        b.collective({ op: 'all-gather', axis: st.dim }, { ...coll, input: t, output: o, group: g.devices });
        return o;
      }
      const d = b.decl(o);
      const tmp = ctx.declare(ctx.freshName(`${value}.gathered`), value, st.spec, d.dtype, d.shape);
      b.collective({ op: 'all-gather', axis: st.dim }, { ...coll, input: t, output: tmp, group: g.devices });
      b.compute('ChunkPermute', consumer, [tmp], [o], { axis: st.dim, order: [...order] });
      return o;
    }
    case 'reduce-scatter': {
      const g = groupOver(ctx.mesh, ctx.devices, ctx.pos, st.axes);
      const src = permuted(t, st.dim, scatteredOrder(g));
      const o = out();
      b.collective({ op: 'reduce-scatter', axis: st.dim }, { ...coll, input: src, output: o, group: g.devices });
      return o;
    }
    case 'all-to-all': {
      const g = groupOver(ctx.mesh, ctx.devices, ctx.pos, st.axes);
      const src = permuted(t, st.toDim, scatteredOrder(g));
      const order = gatheredOrder(g);
      const o = out();
      const d = b.decl(o);
      const mid = order ? ctx.declare(ctx.freshName(`${value}.exchanged`), value, st.spec, d.dtype, d.shape) : o;
      b.collective({ op: 'all-to-all', splitAxis: st.toDim, concatAxis: st.dim }, { ...coll, input: src, output: mid, group: g.devices });
      if (order) b.compute('ChunkPermute', consumer, [mid], [o], { axis: st.dim, order: [...order] });
      return o;
    }
    case 'permute':
      return permute(ctx, st, t, spec, value, consumer);
    case 'local-slice': {
      const a = st.axes[0] ?? '';
      const o = out();
      b.compute('SliceChunk', consumer, [t], [o], { axis: st.dim, parts: sizeOf(ctx.mesh, a), index: ctx.coords.get(a) ?? 0 });
      return o;
    }
    case 'local-partial': {
      const a = st.axes[0] ?? '';
      const o = out();
      const index = ctx.coords.get(a) ?? 0;
      if (st.dim < 0) b.compute(index === 0 ? 'Identity' : 'ZerosLike', consumer, [t], [o]);
      else b.compute('PadChunk', consumer, [t], [o], { axis: st.dim, parts: sizeOf(ctx.mesh, a), index });
      return o;
    }
    default: {
      const never: never = st.kind;
      throw new AutoparError('E_INTERNAL', `lowering: unknown resharding step ${String(never)} (tensor of ${globalShape.length} dims)`);
    }
  }
}

/**
 * A block permutation: each device sends its block to the one that holds it under the
 * new spec (among devices differing only on the step's axes; replicas matched by their
 * index over the axes each spec leaves free). In every cycle the lowest device sends
 * first and the others receive first, so synchronous sends cannot deadlock.
 */
function permute(ctx: StepContext, st: ReshardStep, t: string, from: ShardingSpec, value: string, consumer: string): string {
  const { mesh, devices } = ctx;
  const n = devices.length;
  const keyOf = (spec: ShardingSpec, pos: number): string => {
    const c = meshCoords(mesh, pos);
    const used = new Set([...spec.dims.flat(), ...spec.partial]);
    const free = mesh.axes.filter((a) => !used.has(a.name) && st.axes.includes(a.name)).map((a) => a.name);
    const fixed = mesh.axes.filter((a) => !st.axes.includes(a.name)).map((a) => `${a.name}=${c.get(a.name) ?? 0}`);
    return `${spec.dims.map((axes) => blockIndex(axes, c, mesh)).join(',')}|${blockIndex(free, c, mesh)}|${fixed.join(',')}`;
  };
  const holderTo = new Map<string, number>();
  for (let p = 0; p < n; p++) holderTo.set(keyOf(st.spec, p), p);
  const target = (p: number): number => {
    const q = holderTo.get(keyOf(from, p));
    if (q === undefined) throw new AutoparError('E_INTERNAL', `lowering: permute of '${value}' has no holder for position ${p}`);
    return q;
  };
  const tag = ctx.nextTag();
  const me = ctx.pos;
  const to = target(me);
  let source = me;
  for (let p = 0; p < n; p++) if (target(p) === me) source = p;
  const o = ctx.declare(ctx.freshName(value), value, st.spec);
  const b = ctx.builder;
  if (to === me) {
    b.compute('Identity', consumer, [t], [o]);
    return o;
  }
  let leader = me;
  for (let p = target(me); p !== me; p = target(p)) leader = Math.min(leader, p);
  const label = `${value}->${consumer}#permute${tag}`;
  const sendFirst = (devices[leader] ?? 0) === (devices[me] ?? 0) || leader === me;
  const peerTo = devices[to] ?? 0;
  const peerFrom = devices[source] ?? 0;
  if (sendFirst) {
    b.send(peerTo, tag, t, label);
    b.recv(peerFrom, tag, o, label);
  } else {
    b.recv(peerFrom, tag, o, label);
    b.send(peerTo, tag, t, label);
  }
  return o;
}
