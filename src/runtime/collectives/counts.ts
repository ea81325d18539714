/** Per-kind call counting shared by the transports (the byte convention is in communicator.ts). */
import { COLLECTIVE_KINDS, type CollectiveCounts, type CollectiveKind } from './communicator.js';

export class CallCounter {
  private readonly byKind = new Map<CollectiveKind, { count: number; bytes: number }>();

  /** Adds one completed call of `kind` moving `bytes` (nccl-tests convention). */
  record(kind: CollectiveKind, bytes: number): void {
    const c = this.byKind.get(kind);
    if (c) {
      c.count += 1;
      c.bytes += bytes;
    } else this.byKind.set(kind, { count: 1, bytes });
  }

  /** Number of calls of `kind` so far (used to number calls in error messages). */
  calls(kind: CollectiveKind): number {
    return this.byKind.get(kind)?.count ?? 0;
  }

  snapshot(): CollectiveCounts {
    const out: CollectiveCounts = {};
    for (const [kind, c] of this.byKind) out[kind] = { count: c.count, bytes: c.bytes };
    return out;
  }
}

/** Sums the counts of several workers (e.g. every rank of a run), kind by kind. */
export function addCounts(all: readonly CollectiveCounts[]): CollectiveCounts {
  const out: CollectiveCounts = {};
  for (const counts of all)
    for (const kind of COLLECTIVE_KINDS) {
      const v = counts[kind];
      if (!v) continue;
      const prev = out[kind];
      out[kind] = { count: (prev?.count ?? 0) + v.count, bytes: (prev?.bytes ?? 0) + v.bytes };
    }
  return out;
}
