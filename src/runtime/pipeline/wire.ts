/** A stage's result as JSON can carry it between processes (MPI ranks write JSON files). */
import type { DType } from '../../ir/dtype.js';
import { type HostTensor, hostTensor } from '../../ir/host-tensor.js';
import type { StageResult } from './stage-worker.js';

interface WireTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float32Array | readonly number[];
}

export interface WireStageResult {
  readonly losses: readonly number[];
  readonly grads: readonly (readonly [string, WireTensor])[];
  readonly firstGrads: readonly (readonly [string, WireTensor])[];
  readonly state: readonly (readonly [string, WireTensor])[];
}

const out = (m: ReadonlyMap<string, HostTensor>): [string, WireTensor][] => [...m].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: Float32Array.from(t.data) }]);

export function toWire(r: StageResult): WireStageResult {
  return { losses: r.losses, grads: out(r.grads), firstGrads: out(r.firstGrads), state: out(r.state) };
}

function isWire(x: unknown): x is WireStageResult {
  return typeof x === 'object' && x !== null && 'losses' in x && 'grads' in x && 'firstGrads' in x && 'state' in x;
}

export function fromWire(x: unknown): StageResult {
  if (!isWire(x)) throw new Error('a stage process returned no result');
  const back = (es: WireStageResult['grads']): Map<string, HostTensor> => new Map(es.map(([k, t]) => [k, hostTensor(t.dtype, t.shape, t.data)]));
  return { losses: [...x.losses], grads: back(x.grads), firstGrads: back(x.firstGrads), state: back(x.state) };
}
