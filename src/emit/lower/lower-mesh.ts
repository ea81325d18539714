/**
 * Lowers a one-mesh plan (the intra-op pass's layouts, strategies and resharding
 * transfers) to one DeviceProgram per device: loads of each device's weight blocks,
 * its blocks of the inputs, every op on local blocks, and the collectives of the
 * plan's transfers, replayed in the order the plan lists them (so the programs move
 * exactly the bytes plan.json predicts). What differs from the single-device graph is
 * stated per op here: a mean over a split axis is rescaled, an embedding split over its
 * vocabulary looks up only its own rows, a bias after a split contraction is added by
 * one device of the group, and constants are cut to the block they broadcast against.
 */
import { AutoparError } from '../../errors.js';
import { dtypeBytes, type DType } from '../../ir/dtype.js';
import type { HostTensor } from '../../ir/host-tensor.js';
import type { AttrValue, Graph, Node } from '../../ir/types.js';
import { opFor } from '../../ops/registry.js';
import type { IntraOpPlan, Transfer } from '../../../passes/intra-op/plan.js';
import type { NodeStrategy } from '../../../passes/intra-op/strategies.js';
import { blockIndex, meshCoords, shardOf } from '../../sharding/host-shard.js';
import { replicated, shardShape, specEquals, specToString, type ShardingSpec } from '../../sharding/spec.js';
import { ProgramBuilder } from '../builder.js';
import type { DeviceProgram, JsonValue, MeshInfo, ProgramSet } from '../program.js';
import { lowerStep, type StepContext } from './reshard-steps.js';

export interface MeshLoweringInput {
  readonly graph: Graph;
  readonly plan: IntraOpPlan;
  /** Global device ids in mesh order (row-major over the plan's mesh axes). */
  readonly devices: readonly number[];
  /** Loop-carried values: parameter (or optimizer state) -> its value after the step. */
  readonly updates: ReadonlyMap<string, string>;
  /** Values each program returns (loss, gradients), in their planned layouts. */
  readonly outputs: readonly string[];
  /** File of a device's weight blocks, relative to the plan folder. */
  readonly weightsFile?: (device: number) => string;
}

/** After a step, each `to` (a parameter's block) takes the value of `from` (its update, in the parameter's layout). */
export interface Carry {
  readonly from: string;
  readonly to: string;
}

export interface MeshProgram extends DeviceProgram {
  readonly carry: readonly Carry[];
}

export interface MeshProgramSet extends ProgramSet {
  readonly programs: readonly MeshProgram[];
}

export const weightsFileOf = (device: number): string => `weights/device-${device}.bin`;

/** Ops whose `addedOnce` inputs (a bias after a contraction) one device per group adds: by rule, see sharding-rule.ts. */
function addedOnce(g: Graph, node: Node): readonly number[] {
  if (node.op === 'ScatterND') return [0]; // the table scattered into: summed over the partial rows
  const op = opFor(node, g.opset);
  const types = (names: readonly string[]) => names.map((n) => (n === '' ? undefined : concreteOf(g, n)));
  const rule = op.shardingRule({ node, opset: g.opset, inputs: types(node.inputs), outputs: node.outputs.map((o) => concreteOf(g, o)), isConstant: (i) => g.constants.has(node.inputs[i] ?? ''), constant: (i) => g.constants.get(node.inputs[i] ?? '') });
  return rule?.addedOnce ?? [];
}

function concreteOf(g: Graph, v: string): { dtype: DType; shape: number[] } {
  const t = g.types.get(v);
  if (!t || !t.shape.every((d) => typeof d === 'number')) throw new AutoparError('E_DIM', `value '${v}' has no static shape; bind symbolic dimensions first`);
  return { dtype: t.dtype, shape: t.shape.map(Number) };
}

export function attrsJson(attrs: ReadonlyMap<string, AttrValue>): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  for (const [k, v] of attrs) out[k] = v.kind === 'tensor' ? { kind: 'tensor', value: tensorJson(v.value) } : { kind: v.kind, value: v.value };
  return out;
}

export function tensorJson(t: HostTensor): JsonValue {
  // JSON has no infinities (masks fill with -inf): those travel as strings Number() reads back.
  return { dtype: t.dtype, shape: [...t.shape], data: Array.from(t.data, (v) => (Number.isFinite(v) ? v : String(v))) };
}

export function lowerMeshPlan(inp: MeshLoweringInput): MeshProgramSet {
  const { plan } = inp;
  const mesh = plan.mesh;
  const n = mesh.axes.reduce((p, a) => p * a.size, 1);
  if (inp.devices.length !== n) throw new AutoparError('E_INTERNAL', `lowering: ${inp.devices.length} devices for a mesh of ${n}`);
  const info: MeshInfo = { shape: mesh.axes.map((a) => a.size), axes: mesh.axes.map((a) => a.name), devices: [...inp.devices] };
  const byId = [...inp.devices.keys()].sort((a, b) => (inp.devices[a] ?? 0) - (inp.devices[b] ?? 0));
  const programs = byId.map((pos) => lowerDevice(inp, info, pos));
  return { schedule: { kind: 'none', stages: 1, microbatches: 1 }, programs };
}

function lowerDevice(inp: MeshLoweringInput, info: MeshInfo, pos: number): MeshProgram {
  const { graph: g, plan } = inp;
  const mesh = plan.mesh;
  const id = inp.devices[pos] ?? 0;
  const coords = meshCoords(mesh, pos);
  const b = new ProgramBuilder(id, 0, info);
  let fresh = 0;
  const names = new Set<string>();
  const freshName = (base: string): string => {
    let nm = `${base}~${++fresh}`;
    while (names.has(nm)) nm = `${base}~${++fresh}`;
    names.add(nm);
    return nm;
  };
  const declare = (name: string, value: string, spec: ShardingSpec, dtype?: DType, shape?: readonly number[]): string => {
    const t = concreteOf(g, value);
    names.add(name);
    b.tensor(name, shape ?? shardShape(t.shape, spec, mesh), { dtype: dtype ?? t.dtype, source: value, sharding: specToString(spec) });
    return name;
  };
  const cur = new Map<string, { t: string; spec: ShardingSpec }>();

  // Weights: every initializer's block, packed in graph order into this device's file.
  const file = (inp.weightsFile ?? weightsFileOf)(id);
  let offset = 0;
  for (const [v, init] of g.initializers) {
    const spec = plan.layouts.get(v) ?? replicated(init.type.shape.length);
    declare(v, v, spec);
    b.load(v, file, offset);
    offset += shardShape(concreteOf(g, v).shape, spec, mesh).reduce((p, d) => p * d, dtypeBytes(init.type.dtype));
    cur.set(v, { t: v, spec });
  }
  for (const gi of g.inputs) {
    const spec = plan.layouts.get(gi.name) ?? replicated(gi.type.shape.length);
    declare(gi.name, gi.name, spec);
    b.input(gi.name, gi.name);
    cur.set(gi.name, { t: gi.name, spec });
  }

  let tags = 0;
  const stepCtx: StepContext = { builder: b, mesh, devices: inp.devices, pos, coords, freshName, declare, nextTag: () => tags++ % 32768 };
  const replay = (tr: Transfer, start: string): string => {
    let t = start;
    let spec = tr.from;
    for (const st of tr.steps) {
      t = lowerStep(stepCtx, st, t, spec, tr.value, tr.consumer, concreteOf(g, tr.value).shape);
      spec = st.spec;
    }
    return t;
  };
  const byInput = new Map<string, Transfer>();
  const sharedBefore = new Map<string, Transfer[]>();
  const updates: Transfer[] = [];
  for (const tr of plan.transfers) {
    if (tr.kind === 'input') byInput.set(`${tr.consumer}\u0000${tr.input ?? -1}`, tr);
    else if (tr.kind === 'shared') sharedBefore.set(tr.consumer, [...(sharedBefore.get(tr.consumer) ?? []), tr]);
    else updates.push(tr);
  }
  const shared = new Map<string, { t: string; spec: ShardingSpec }>();
  const constants = new Map<string, string>();

  for (const node of g.nodes) {
    for (const tr of sharedBefore.get(node.name) ?? []) {
      const have = cur.get(tr.value);
      if (!have) throw new AutoparError('E_INTERNAL', `lowering: '${tr.value}' is shared before it is computed`);
      shared.set(tr.value, { t: replay(tr, have.t), spec: tr.to });
    }
    const s = plan.nodeStrategies.get(node.name);
    if (!s) throw new AutoparError('E_INTERNAL', `lowering: node '${node.name}' (${node.op}) has no strategy in the plan`);
    const outSpec = s.outputs[0];
    const inputs: string[] = [];
    const holes: number[] = [];
    const once = addedOnce(g, node);
    const partialOut = outSpec?.partial ?? [];
    node.inputs.forEach((v, k) => {
      if (v === '') {
        holes.push(k);
        return;
      }
      const c = g.constants.get(v);
      if (c) {
        const zero = once.includes(k) && partialOut.some((a) => (coords.get(a) ?? 0) !== 0);
        inputs.push(constantFor(v, c, node, s, k, zero));
        return;
      }
      const have = shared.get(v) ?? cur.get(v);
      if (!have) throw new AutoparError('E_INTERNAL', `lowering: node '${node.name}' reads '${v}' before it is computed`);
      const tr = byInput.get(`${node.name}\u0000${k}`);
      let t = tr ? replay(tr, have.t) : have.t;
      const spec = tr ? tr.to : have.spec;
      const want = s.inputs[k];
      if (!tr && want && !specEquals(want, have.spec)) throw new AutoparError('E_INTERNAL', `lowering: node '${node.name}' needs '${v}' as ${specToString(want)}, the plan has it as ${specToString(have.spec)} and no transfer`);
      if (!want && have.spec.partial.length > 0) throw new AutoparError('E_INTERNAL', `lowering: node '${node.name}' reads '${v}', a partial sum over ${have.spec.partial.join(',')}, where it needs the value`);
      // A bias after a split contraction: one device of the group adds it, the others zeros.
      if (once.includes(k) && spec.partial.length === 0 && partialOut.some((a) => (coords.get(a) ?? 0) !== 0)) {
        const z = freshName(`${v}.zeros`);
        declare(z, v, spec);
        b.compute('ZerosLike', node.name, [t], [z]);
        t = z;
      }
      inputs.push(t);
    });

    const attrs: { [k: string]: JsonValue } = { opset: g.opset, onnx: attrsJson(node.attrs), ...(holes.length ? { holes } : {}) };
    const outs = node.outputs.map((o, k) => (o === '' ? '' : declare(o, o, s.outputs[k] ?? replicated(concreteOf(g, o).shape.length))));
    for (const [k, o] of node.outputs.entries()) if (o !== '') cur.set(o, { t: o, spec: s.outputs[k] ?? replicated(concreteOf(g, o).shape.length) });
    if (outs.some((o) => o === '')) attrs.unused = outs.map((o, k) => (o === '' ? k : -1)).filter((k) => k >= 0);
    const real = outs.filter((o) => o !== '');

    if (node.op === 'ReduceMean' && partialOut.length > 0 && !s.inputs.some((x) => x?.partial.length)) {
      // The local mean divides by the local count; the partials must sum to the global mean.
      const only = real[0] ?? '';
      const tmp = freshName(`${only}.local`);
      declare(tmp, node.outputs[0] ?? '', outSpec ?? replicated(0));
      b.compute(node.op, node.name, inputs, [tmp], attrs);
      b.compute('Scale', node.name, [tmp], [only], { factor: 1 / splitOf(partialOut) });
      continue;
    }
    if (node.op === 'Gather' && (s.inputs[0]?.dims[gatherAxis(g, node)] ?? []).length > 0) {
      // Vocabulary-parallel lookup: this device holds rows [offset, offset + rows).
      const axis = gatherAxis(g, node);
      const axes = s.inputs[0]?.dims[axis] ?? [];
      const rows = shardShape(concreteOf(g, node.inputs[0] ?? '').shape, s.inputs[0] ?? replicated(0), mesh)[axis] ?? 0;
      b.compute('GatherShard', node.name, inputs, real, { ...attrs, axis, offset: rows * blockIndex(axes, coords, mesh), rows });
      continue;
    }
    b.compute(node.op, node.name, inputs, real, attrs);
  }

  const carry: Carry[] = [];
  for (const tr of updates) {
    const have = shared.get(tr.value) ?? cur.get(tr.value);
    if (!have) throw new AutoparError('E_INTERNAL', `lowering: update '${tr.value}' of '${tr.consumer}' is never computed`);
    carry.push({ from: replay(tr, have.t), to: tr.consumer });
  }
  for (const o of inp.outputs) {
    const have = cur.get(o);
    if (!have) throw new AutoparError('E_INTERNAL', `lowering: output '${o}' is never computed`);
    b.output(have.t);
  }
  return { ...b.build(), carry };

  function splitOf(axes: readonly string[]): number {
    return axes.reduce((p, a) => p * (mesh.axes.find((x) => x.name === a)?.size ?? 1), 1);
  }

  /** A constant input, cut to this device's block where it broadcasts against split output dimensions. */
  function constantFor(v: string, c: HostTensor, node: Node, s: NodeStrategy, k: number, zero: boolean): string {
    const out = s.outputs[0];
    const outShape = node.outputs[0] ? concreteOf(g, node.outputs[0]).shape : [];
    let spec = replicated(c.shape.length);
    if (out && opFor(node, g.opset).family === 'elementwise' && c.shape.length > 0) {
      const lead = outShape.length - c.shape.length;
      spec = { dims: c.shape.map((d, i) => (d === outShape[i + lead] && d > 1 ? [...(out.dims[i + lead] ?? [])] : [])), partial: [] };
    }
    const key = `${v}\u0000${specToString(spec)}\u0000${zero}`;
    const known = constants.get(key);
    if (known) return known;
    const cut = shardOf(c, spec, mesh, coords);
    const block = zero ? { ...cut, data: cut.data.map(() => 0) } : cut;
    const name = freshName(`const:${v}`);
    declare(name, v, spec, c.dtype, block.shape);
    b.compute('Constant', node.name, [], [name], { value: tensorJson(block), input: k });
    constants.set(key, name);
    return name;
  }
}

function gatherAxis(g: Graph, node: Node): number {
  const a = node.attrs.get('axis');
  const axis = a && a.kind === 'int' ? a.value : 0;
  return axis < 0 ? axis + concreteOf(g, node.inputs[0] ?? '').shape.length : axis;
}
