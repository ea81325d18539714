/**
 * Memory of a training step read off its graph: model states by role (parameters,
 * gradients, optimizer states), the activations the backward pass reads (saved from
 * the forward pass), and the peak over the step from value lifetimes. Reshape-like
 * ops are views (no new memory), as in PyTorch and XLA.
 */
import { peakMemory, type BufferLife } from '../../cost-models/memory.js';
import { dtypeBytes } from '../ir/dtype.js';
import { numel } from '../ir/host-tensor.js';
import type { Graph } from '../ir/types.js';
import { isConcrete } from '../ops/util.js';
import type { TrainingGraph } from '../training/build.js';

const VIEW_OPS: ReadonlySet<string> = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity', 'Dropout']);

export interface TrainingMemory {
  readonly parameters: number;
  readonly gradients: number;
  readonly optimizerStates: number;
  /** Forward values (after view aliasing) that backward nodes read. */
  readonly activations: number;
  /** Peak of live bytes when the step runs in graph order, everything included. */
  readonly peak: number;
}

export function valueBytes(g: Graph, name: string): number {
  const t = g.types.get(name);
  if (!t || !isConcrete(t.shape)) return 0;
  return numel(t.shape) * dtypeBytes(t.dtype);
}

/** Maps each view's output to the value whose memory it shares. */
function viewBases(g: Graph): Map<string, string> {
  const base = new Map<string, string>();
  for (const n of g.nodes) {
    const src = n.inputs[0];
    const out = n.outputs[0];
    if (VIEW_OPS.has(n.op) && src && out) base.set(out, base.get(src) ?? src);
  }
  return base;
}

export function trainingMemory(tg: TrainingGraph): TrainingMemory {
  const g = tg.graph;
  const bytes = (n: string): number => valueBytes(g, n);
  const parameters = tg.params.reduce((s, p) => s + bytes(p), 0);
  const gradients = [...tg.grads.values()].reduce((s, v) => s + bytes(v), 0);
  const optimizerStates = [...tg.states.keys()].reduce((s, v) => s + bytes(v), 0);

  const base = viewBases(g);
  const root = (v: string): string => base.get(v) ?? v;
  const persistent = new Set<string>([...g.initializers.keys(), ...g.constants.keys()]);
  const forwardValues = new Set<string>(g.inputs.map((i) => i.name));
  g.nodes.slice(0, tg.forwardNodes).forEach((n) => n.outputs.forEach((o) => forwardValues.add(root(o))));
  const saved = new Set<string>();
  for (const n of g.nodes.slice(tg.forwardNodes)) {
    for (const i of n.inputs) {
      const r = root(i);
      if (i !== '' && forwardValues.has(r) && !persistent.has(r)) saved.add(r);
    }
  }
  const activations = [...saved].reduce((s, v) => s + bytes(v), 0);

  // Lifetimes: from the producing node to the last reader; persistent values all step.
  const end = g.nodes.length;
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  g.nodes.forEach((n, i) => {
    for (const o of n.outputs) if (o !== '' && !base.has(o)) first.set(o, i);
    for (const inp of n.inputs) if (inp !== '') last.set(root(inp), i);
  });
  for (const o of g.outputs) last.set(root(o), end);
  const buffers: BufferLife[] = [];
  for (const p of persistent) buffers.push({ bytes: bytes(p), firstUse: 0, lastUse: end });
  for (const i of g.inputs) buffers.push({ bytes: bytes(i.name), firstUse: 0, lastUse: last.get(i.name) ?? 0 });
  for (const [v, f] of first) buffers.push({ bytes: bytes(v), firstUse: f, lastUse: Math.max(f, last.get(v) ?? f) });
  return { parameters, gradients, optimizerStates, activations, peak: peakMemory(buffers).peakBytes };
}
