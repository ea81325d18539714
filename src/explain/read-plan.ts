/** Reads DIR/plan.json back into the PlanJson that compile wrote, checked field by field. */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AutoparError } from '../errors.js';
import type { PlanJson } from '../planner/plan-json.js';

const Sharding = z.object({ dims: z.array(z.array(z.string())), partial: z.array(z.string()) });
const Phase = z.enum(['forward', 'backward', 'update', 'pipeline']);
const Collective = z.object({
  kind: z.string(),
  axes: z.array(z.string()),
  group: z.array(z.number()),
  groups: z.array(z.array(z.number())),
  bytes: z.number(),
  seconds: z.number(),
  value: z.string(),
  consumer: z.string(),
  phase: Phase,
});
const Node = z.object({
  name: z.string(),
  op: z.string(),
  strategy: z.string(),
  inputs: z.array(z.string()).optional(),
  outputs: z.array(z.object({ name: z.string(), shape: z.array(z.number()), sharding: Sharding })),
  alternative: z
    .object({ strategy: z.string(), weight: z.string(), weightSharding: Sharding.nullable(), outputSharding: Sharding.nullable(), extraSeconds: z.number(), ops: z.number() })
    .optional(),
});
const StageCosts = z.object({
  forwardSeconds: z.array(z.number()),
  backwardSeconds: z.array(z.number()),
  activationTransferSeconds: z.array(z.number()),
  gradientTransferSeconds: z.array(z.number()),
  updateSeconds: z.array(z.number()),
});
const Plan = z.object({
  version: z.literal(1),
  model: z.string(),
  mode: z.enum(['train', 'infer']),
  strategy: z.string(),
  batch: z.number(),
  cluster: z.object({ name: z.string(), file: z.string(), devices: z.number(), hosts: z.number(), device: z.string() }),
  schedule: z.object({ kind: z.enum(['none', 'gpipe', '1f1b']), microbatches: z.number(), stageCosts: StageCosts.optional() }),
  stages: z.array(
    z.object({
      devices: z.array(z.number()),
      mesh: z.object({ shape: z.array(z.number()), axes: z.array(z.string()) }),
      layers: z.tuple([z.number(), z.number()]),
      memoryBytesPerDevice: z.number().optional(),
      parameters: z.array(
        z.object({
          name: z.string(),
          shape: z.array(z.number()),
          sharding: Sharding,
          optimizerStateSharding: Sharding.nullable(),
          source: z.object({ name: z.string(), axis: z.number(), start: z.number() }).optional(),
        }),
      ),
      nodes: z.array(Node),
      collectives: z.array(Collective),
    }),
  ),
  cost: z.object({
    stepTimeSeconds: z.number(),
    computeSeconds: z.number(),
    communicationSeconds: z.number(),
    bubbleSeconds: z.number(),
    peakMemoryBytesPerDevice: z.number(),
    memoryLimitBytesPerDevice: z.number(),
    communicationBytesPerStep: z.number(),
    costModel: z.string(),
  }),
  solver: z.object({ name: z.string(), status: z.string(), objective: z.number(), bound: z.number(), gap: z.number() }),
});

/** `dir` is a compile output folder (or the plan.json in it). */
export function readPlanJson(dir: string): { file: string; plan: PlanJson } {
  const file = dir.endsWith('.json') ? dir : path.join(dir, 'plan.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new AutoparError('E_FILE', `${file}: cannot read it; give the folder \`autopar compile\` wrote (its --out, default ./MODEL.autopar)`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new AutoparError('E_PARSE', `${file}: not JSON (${e instanceof Error ? e.message : String(e)}); compile again to rewrite it`);
  }
  const parsed = Plan.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AutoparError('E_PARSE', `${file}: not a plan.json this version reads (at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? '?'}); compile again with this version`);
  }
  const plan: PlanJson = parsed.data;
  return { file, plan };
}
