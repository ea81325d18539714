/**
 * One device of a one-mesh plan, as a worker thread or an MPI rank: reads its program
 * (DIR/devices/device-R.json) and its weight blocks (DIR/weights/device-R.bin), runs the
 * steps, and returns its local output blocks of every step.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MeshProgram } from '../../emit/lower/lower-mesh.js';
import type { Communicator } from '../collectives/communicator.js';
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

export default async function meshWorker(comm: Communicator, args: MeshWorkerArgs): Promise<MeshWorkerResult> {
  const inline = args.programs?.[comm.rank];
  const program = inline ?? (JSON.parse(fs.readFileSync(path.join(args.dir, 'devices', `device-${comm.rank}.json`), 'utf8')) as MeshProgram);
  const weights = inline ? new Uint8Array(0) : new Uint8Array(fs.readFileSync(path.join(args.dir, 'weights', `device-${comm.rank}.bin`)));
  const feeds = new Map(args.feeds.map(([k, w]) => [k, fromWireTensor(w)] as const));
  const run = await runProgram(comm, program, weights, () => feeds, args.steps);
  return { device: comm.rank, steps: run.steps.map((outs) => outs.map(toWireTensor)) };
}
