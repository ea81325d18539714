/**
 * Per layer of a plan.json: its weights' layouts, its op's output layout, both in words,
 * the collectives it costs and its best local alternative. A "layer" here is a module
 * of the model: the parameters that share a name prefix (`blocks.0.mlp.c_fc.weight` and
 * `.bias`), with the first forward op that reads its main (largest) weight.
 */
import type { CollectiveJson, NodeJson, PlanJson, ShardingJson } from '../planner/plan-json.js';
import { activationWords, optimizerWords, patternSummary, specText, weightWords } from './words.js';

export interface CollectiveCost {
  readonly kind: string;
  readonly axes: readonly string[];
  readonly bytes: number;
  readonly seconds: number;
  readonly phase: CollectiveJson['phase'];
  readonly value: string;
}

export interface WeightExplanation {
  readonly name: string;
  readonly shape: readonly number[];
  readonly sharding: string;
  readonly words: string;
  readonly optimizerState: string;
}

export interface LayerExplanation {
  readonly stage: number;
  readonly layer: string;
  /** The forward op that reads the main weight (undefined: no op of this stage reads it). */
  readonly node: string | undefined;
  readonly op: string | undefined;
  /** Short name of the parallelism, e.g. "column-parallel over x". */
  readonly pattern: string;
  readonly weights: readonly WeightExplanation[];
  readonly activation: { readonly name: string; readonly shape: readonly number[]; readonly sharding: string; readonly words: string } | undefined;
  readonly collectives: readonly CollectiveCost[];
  readonly collectiveSeconds: number;
  readonly collectiveBytes: number;
  /** The best other strategy for the op with the rest of the plan fixed, when plan.json has it. */
  readonly alternative: { readonly strategy: string; readonly words: string; readonly extraSeconds: number; readonly ops: number } | undefined;
}

export interface PlanExplanation {
  readonly model: string;
  readonly strategy: string;
  readonly devices: number;
  readonly stages: number;
  readonly layers: readonly LayerExplanation[];
  /** Collectives not tied to one layer's weights (e.g. the loss, pipeline boundaries). */
  readonly otherCollectives: readonly CollectiveCost[];
  /** Why some layers have no alternative, when they do not. */
  readonly notes: readonly string[];
}

/** `blocks.0.mlp.c_fc.weight` -> `blocks.0.mlp.c_fc`; a name without a known suffix is its own layer. */
export function layerName(param: string): string {
  const m = /^(.*)\.(weight|bias|gamma|beta|scale|running_mean|running_var)$/.exec(param);
  return m?.[1] ?? param;
}

/** Ops that only move a weight (a transpose for the backward pass, an Identity): not its use. */
const MOVES = new Set(['Identity', 'Transpose', 'Reshape', 'Cast', 'Squeeze', 'Unsqueeze']);

/**
 * The op that uses a parameter in the forward pass: ops keeping the model's path names
 * (`/blocks.0/fc/MatMul`) are the model's own, the rest were added by autodiff and the
 * optimizer; moves are passed over.
 */
function forwardReader(readers: readonly NodeJson[]): NodeJson | undefined {
  const real = readers.filter((n) => !MOVES.has(n.op));
  return real.find((n) => n.name.startsWith('/')) ?? real[0] ?? readers[0];
}

/** `/blocks.0/qkv/MatMul.part1` -> `blocks.0.qkv.part1`; undefined for a name without a path. */
export function modulePath(node: string | undefined): string | undefined {
  if (node === undefined || !node.startsWith('/')) return undefined;
  const parts = node.slice(1).split('/');
  const last = parts.pop() ?? '';
  if (parts.length === 0) return undefined;
  const part = /\.(part\d+)$/.exec(last)?.[1];
  return [...parts, ...(part ? [part] : [])].join('.');
}

const cost = (c: CollectiveJson): CollectiveCost => ({ kind: c.kind, axes: c.axes, bytes: c.bytes, seconds: c.seconds, phase: c.phase, value: c.value });
const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function explainPlan(plan: PlanJson): PlanExplanation {
  const layers: LayerExplanation[] = [];
  const other: CollectiveCost[] = [];
  let alternatives = 0;
  plan.stages.forEach((stage, s) => {
    // An axis of size 1 splits nothing: the words leave it out (the layouts keep it).
    const trivial = new Set(stage.mesh.axes.filter((_, i) => stage.mesh.shape[i] === 1));
    const real = (x: ShardingJson): ShardingJson => (trivial.size === 0 ? x : { dims: x.dims.map((axes) => axes.filter((a) => !trivial.has(a))), partial: x.partial.filter((a) => !trivial.has(a)) });
    const readersOf = new Map<string, NodeJson[]>();
    for (const n of stage.nodes) for (const i of n.inputs ?? []) readersOf.set(i, [...(readersOf.get(i) ?? []), n]);
    // Parameters grouped by layer, in the order the model lists them: by the module path
    // of the op that uses them (exporters name weights `onnx::MatMul_273` but keep op
    // paths like `/blocks.0/proj/MatMul`), else by their own name.
    const groups = new Map<string, (typeof stage.parameters)[number][]>();
    for (const p of stage.parameters) {
      const key = modulePath(forwardReader(readersOf.get(p.name) ?? [])?.name) ?? layerName(p.name);
      const list = groups.get(key) ?? [];
      list.push(p);
      groups.set(key, list);
    }
    const claimed = new Set<CollectiveJson>();
    for (const [name, params] of groups) {
      const main = [...params].sort((a, b) => numel(b.shape) - numel(a.shape) || b.shape.length - a.shape.length)[0];
      if (!main) continue;
      const names = new Set(params.map((p) => p.name));
      const readers = stage.nodes.filter((n) => (n.inputs ?? []).some((i) => names.has(i)));
      const node = forwardReader(readersOf.get(main.name) ?? []) ?? readers[0];
      const output = node?.outputs[0];
      const outSpec: ShardingJson | undefined = output ? real(output.sharding) : undefined;
      // What this layer's collectives are: those feeding or leaving its ops (forward, weight
      // gradient, update) and those on its parameters and their optimizer values.
      const ops = new Set(readers.map((n) => n.name));
      const outputs = new Set(readers.flatMap((n) => n.outputs.map((o) => o.name)));
      const ours = (c: CollectiveJson): boolean =>
        ops.has(c.consumer) || outputs.has(c.value) || names.has(c.consumer) || names.has(c.value) || params.some((p) => c.value.startsWith(`${p.name}.`) || c.consumer.startsWith(`${p.name}.`));
      const collectives = stage.collectives.filter((c) => c.phase !== 'pipeline' && !claimed.has(c) && ours(c));
      collectives.forEach((c) => claimed.add(c));
      const alt = node?.alternative;
      if (alt) alternatives++;
      layers.push({
        stage: s,
        layer: name,
        node: node?.name,
        op: node?.op,
        pattern: patternSummary(node?.op ?? '', real(main.sharding), outSpec),
        weights: params.map((p) => ({
          name: p.name,
          shape: p.shape,
          sharding: specText(p.sharding),
          words: weightWords(p.name, node?.op ?? '', real(p.sharding), p === main ? outSpec : undefined),
          optimizerState: optimizerWords(real(p.sharding), p.optimizerStateSharding === null ? null : real(p.optimizerStateSharding)),
        })),
        activation: output ? { name: output.name, shape: output.shape, sharding: specText(output.sharding), words: activationWords(real(output.sharding)) } : undefined,
        collectives: collectives.map(cost),
        collectiveSeconds: collectives.reduce((t, c) => t + c.seconds, 0),
        collectiveBytes: collectives.reduce((t, c) => t + c.bytes, 0),
        alternative: alt
          ? {
              strategy: alt.strategy,
              words: alt.weightSharding ? weightWords(alt.weight, node?.op ?? '', real(alt.weightSharding), alt.outputSharding ? real(alt.outputSharding) : undefined) : `strategy ${alt.strategy}`,
              extraSeconds: alt.extraSeconds,
              ops: alt.ops,
            }
          : undefined,
      });
    }
    for (const c of stage.collectives) if (!claimed.has(c)) other.push(cost(c));
  });
  const notes: string[] = [];
  if (alternatives === 0) {
    notes.push(
      plan.stages.length > 1
        ? 'pipelined plan: plan.json keeps no per-op alternatives for stitched stages; compare strategies with `autopar compare`'
        : 'plan.json has no alternatives (written by an older version): compile again to have them',
    );
  }
  return { model: plan.model, strategy: plan.strategy, devices: plan.cluster.devices, stages: plan.stages.length, layers, otherCollectives: other, notes };
}
