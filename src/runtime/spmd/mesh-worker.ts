/**
 * One device of a one-mesh plan, as a worker thread or an MPI rank: reads its program
 * (DIR/devices/device-R.json) and its weight blocks (DIR/weights/device-R.bin), runs the
 * steps, and returns its local output blocks of every step.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MeshProgram } from '../../emit/lower/lower-mesh.js';
import type { Communicator } from '../collectives/communicator.js';
import { groupOver } from '../../emit/lower/mesh-groups.js';
import { parseSpec } from '../../sharding/spec.js';
import { runProgram } from './interpret.js';
import { fromWireTensor, toWireTensor, type WireTensor } from './wire.js';

export interface MeshWorkerArgs {
  /** The plan folder; or, for programs built in memory (tests), `programs` and no weights. */
  readonly dir: string;
  readonly programs?: readonly MeshProgram[];
  readonly steps: number;
  /** Global model inputs, the same every step. */
  readonly feeds: readonly (readonly [string, WireTensor])[];
}

export interface MeshWorkerResult {
  readonly device: number;
  readonly steps: readonly (readonly WireTensor[])[];
}

/**
 * Each step's loss as a number on every rank, for `autopar worker` (ranks of separate
 * processes cannot put blocks together on one host): where the planned loss is a
 * partial sum, one all-reduce after the run adds it up over the partial axes.
 */
export async function globalLosses(comm: Communicator, program: MeshProgram, result: MeshWorkerResult): Promise<number[]> {
  const local = Float32Array.from(result.steps, (outs) => outs[0]?.data[0] ?? NaN);
  const name = program.outputs[0] ?? '';
  const partial = parseSpec(program.tensors.find((t) => t.name === name)?.sharding ?? '[]').partial;
  if (partial.length === 0) return Array.from(local);
  const mesh = { axes: program.mesh.axes.map((a, i) => ({ name: a, size: program.mesh.shape[i] ?? 1 })) };
  const group = groupOver(mesh, program.mesh.devices, program.mesh.devices.indexOf(program.device), partial).devices;
  return Array.from(await comm.allReduce(local, group, 'loss (after the run)'));
}

/** Reads a device's program from the plan folder. */
export function readDeviceProgram(dir: string, device: number): MeshProgram {
  return JSON.parse(fs.readFileSync(path.join(dir, 'devices', `device-${device}.json`), 'utf8')) as MeshProgram;
}

export default async function meshWorker(comm: Communicator, args: MeshWorkerArgs): Promise<MeshWorkerResult> {
  const inline = args.programs?.[comm.rank];
  const program = inline ?? readDeviceProgram(args.dir, comm.rank);
  const weights = inline ? new Uint8Array(0) : new Uint8Array(fs.readFileSync(path.join(args.dir, 'weights', `device-${comm.rank}.bin`)));
  const feeds = new Map(args.feeds.map(([k, w]) => [k, fromWireTensor(w)] as const));
  const run = await runProgram(comm, program, weights, () => feeds, args.steps);
  return { device: comm.rank, steps: run.steps.map((outs) => outs.map(toWireTensor)) };
}
