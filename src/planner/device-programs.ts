/**
 * The device programs of a one-mesh plan: lowered (emit/lower), verified (a set that
 * fails is a compiler bug, reported before anything runs), and written beside plan.json
 * as DIR/devices/device-K.json (what `autopar run` executes) and device-K.mjs (the same
 * program printed as a tfjs module), each to a temporary name and then renamed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { lowerMeshPlan, type MeshProgramSet } from '../emit/lower/lower-mesh.js';
import { printProgram } from '../emit/print.js';
import { stableJson } from '../emit/stable-json.js';
import { assertVerified } from '../emit/verify.js';
import type { Compiled } from './compile.js';
import { writePlan } from './plan-json.js';
import type { PlannedModel } from './plan-model.js';

export function lowerCompiled(c: Compiled): MeshProgramSet {
  const tg = c.training;
  const set = lowerMeshPlan({
    graph: c.graph,
    plan: c.best.plan,
    devices: c.best.mesh.devices,
    updates: c.roles.updates,
    // Loss, then the gradients in parameter order, then the model's output (checked by `run --reference`).
    outputs: tg ? [tg.loss, ...tg.grads.values(), tg.output] : c.graph.outputs,
  });
  assertVerified(set);
  return set;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Writes DIR/devices/device-K.{json,mjs}; returns the folder. */
export function writeDevicePrograms(dir: string, set: MeshProgramSet): string {
  const out = path.join(dir, 'devices');
  fs.mkdirSync(out, { recursive: true });
  for (const p of set.programs) {
    writeAtomic(path.join(out, `device-${p.device}.json`), stableJson(p) + '\n');
    writeAtomic(path.join(out, `device-${p.device}.mjs`), printProgram(p));
  }
  return out;
}

/**
 * What `autopar compile --out DIR` writes for a planned model: plan.json, and for a
 * one-mesh plan (training or inference) its verified device programs. Returns the files.
 */
export function writeCompiled(dir: string, planned: PlannedModel): { readonly plan: string; readonly programs: string | undefined } {
  const plan = writePlan(dir, planned.plan);
  const c = planned.compiled;
  return { plan, programs: c ? writeDevicePrograms(dir, lowerCompiled(c)) : undefined };
}
