/**
 * Canonical JSON (keys sorted at every level, no whitespace) and its sha256, so two
 * lowerings of the same plan can be compared by one string in tests and caches.
 */
import { createHash } from 'node:crypto';
import { AutoparError } from '../errors.js';
import type { DeviceProgram, ProgramSet } from './program.js';

/** Undefined object fields are dropped as JSON.stringify does; non-finite numbers are a bug. */
export function stableJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new AutoparError('E_INTERNAL', `stableJson: non-finite number ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        // Tensor data (a causal mask: a million numbers per device): JSON.stringify is
        // canonical for finite numbers and strings and far faster than element by element.
        if (value.every((v: unknown) => (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string')) return JSON.stringify(value);
        return `[${value.map((v: unknown) => (v === undefined ? 'null' : stableJson(v))).join(',')}]`;
      }
      const entries = Object.entries(value).filter(([, v]) => v !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
    }
    default:
      throw new AutoparError('E_INTERNAL', `stableJson: cannot serialise a ${typeof value}`);
  }
}

/** sha256 (hex) of the stable JSON of a program set or of one device's program. */
export function programDigest(x: ProgramSet | DeviceProgram): string {
  return createHash('sha256').update(stableJson(x)).digest('hex');
}
