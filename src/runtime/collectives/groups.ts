/** Checks and arithmetic on groups and chunks that every transport needs. */
import type { Buf, CollectiveKind, Group } from './communicator.js';
import { CollectiveError } from './errors.js';

/**
 * Position of `rank` in `group`, after checking the group is sorted, duplicate-free, within
 * 0..size-1 and contains `rank`: a malformed group is a bug in the caller, reported at once.
 */
export function memberIndex(group: Group, rank: number, size: number, kind: CollectiveKind, label?: string): number {
  if (group.length === 0) throw new CollectiveError(rank, kind, label, 'empty group');
  for (let i = 0; i < group.length; i++) {
    const g = group[i]!;
    if (!Number.isInteger(g) || g < 0 || g >= size)
      throw new CollectiveError(rank, kind, label, `group [${group.join(',')}] has rank ${g}, outside 0..${size - 1}`);
    if (i > 0 && g <= group[i - 1]!)
      throw new CollectiveError(rank, kind, label, `group [${group.join(',')}] must be sorted without duplicates`);
  }
  const i = group.indexOf(rank);
  if (i < 0) throw new CollectiveError(rank, kind, label, `rank ${rank} is not in group [${group.join(',')}]`);
  return i;
}

/** Start of piece i when `length` elements are split into n pieces as evenly as possible. */
export function pieceStart(length: number, n: number, i: number): number {
  return Math.floor((length * i) / n);
}

/** Length of each of the n equal chunks of `buf`, or an error naming the sizes. */
export function equalChunk(buf: Buf, n: number, rank: number, kind: CollectiveKind, label?: string): number {
  if (buf.length % n !== 0)
    throw new CollectiveError(rank, kind, label, `${buf.length} elements do not split into ${n} equal chunks`);
  return buf.length / n;
}

/** A zeroed array of the same element type as `like`. */
export function allocLike<T extends Buf>(like: T, length: number): T;
export function allocLike(like: Buf, length: number): Buf {
  return like instanceof Float32Array ? new Float32Array(length) : new Int32Array(length);
}

export function dtypeOf(buf: Buf): 'float32' | 'int32' {
  return buf instanceof Float32Array ? 'float32' : 'int32';
}

export function checkTag(tag: number, rank: number, kind: CollectiveKind, label?: string): void {
  if (!Number.isInteger(tag) || tag < 0 || tag > 32767)
    throw new CollectiveError(rank, kind, label, `tag ${tag} is not an integer in 0..32767`);
}

export function checkPeer(peer: number, rank: number, size: number, kind: CollectiveKind, label?: string): void {
  if (!Number.isInteger(peer) || peer < 0 || peer >= size || peer === rank)
    throw new CollectiveError(rank, kind, label, `peer ${peer} must be another rank in 0..${size - 1}`);
}
