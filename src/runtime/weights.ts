/**
 * Reading weights for execution. Import never reads external data; this does, and a
 * missing or short file is an error that names it (planning works without it).
 */
import fs from 'node:fs';
import { AutoparError } from '../errors.js';
import { dtypeBytes } from '../ir/dtype.js';
import { type HostTensor, hostFromBytes, hostTensor, numel } from '../ir/host-tensor.js';
import { type Graph, type Initializer, inlineData, isExternal } from '../ir/types.js';
import { hostSlice } from '../ops/host.js';
import { isConcrete } from '../ops/util.js';

export function loadInitializer(init: Initializer): HostTensor {
  const inline = inlineData(init.data);
  if (inline) return inline;
  const shape = init.type.shape;
  if (!isConcrete(shape)) throw new AutoparError('E_INTERNAL', `initializer '${init.name}' has a symbolic shape`);
  if ('kind' in init.data && init.data.kind === 'slice') {
    const { source, axis, start } = init.data;
    const whole = loadInitializer(source);
    return hostSlice(whole, whole.shape.map((_, k) => (k === axis ? start : 0)), whole.shape.map(() => 1), shape);
  }
  if (!isExternal(init.data)) return hostTensor(init.type.dtype, shape, new Float64Array(numel(shape)));
  const ext = init.data;
  const need = numel(shape) * dtypeBytes(init.type.dtype);
  let fd: number;
  try {
    fd = fs.openSync(ext.path, 'r');
  } catch {
    throw new AutoparError(
      'E_WEIGHTS',
      `weights file '${ext.location}' (${ext.path}) for initializer '${init.name}' is missing; executing needs it (planning and inspect do not)`,
    );
  }
  try {
    const buf = Buffer.alloc(need);
    const got = fs.readSync(fd, buf, 0, need, ext.offset);
    if (got < need) {
      throw new AutoparError('E_WEIGHTS', `weights file '${ext.location}' is too short for initializer '${init.name}': needs ${need} bytes at offset ${ext.offset}, found ${got}`);
    }
    return hostFromBytes(init.type.dtype, shape, new Uint8Array(buf.buffer, buf.byteOffset, need));
  } finally {
    fs.closeSync(fd);
  }
}

/** All initializers' values, by name (overrides take precedence, e.g. reference weights). */
export function loadWeights(g: Graph, overrides?: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, init] of g.initializers) out.set(name, overrides?.get(name) ?? loadInitializer(init));
  return out;
}
