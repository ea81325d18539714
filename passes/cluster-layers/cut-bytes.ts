/**
 * Bytes crossing each cut of a topologically ordered node list: cut j lies between
 * nodes j-1 and j, and a value crosses it when it is produced before j and read at or
 * after j. A value crossing several cuts counts once at each, which is what a
 * pipeline pays: every stage in between must receive and forward it.
 */
import { dtypeBytes } from '../../src/ir/dtype.js';
import type { Graph, Node } from '../../src/ir/types.js';

/** Bytes of a value with a static shape (0 when symbolic or untyped: nothing to plan). */
export function valueBytes(g: Graph, value: string): number {
  const t = g.types.get(value);
  if (!t) return 0;
  let n = 1;
  for (const d of t.shape) {
    if (typeof d !== 'number') return 0;
    n *= d;
  }
  return n * dtypeBytes(t.dtype);
}

/**
 * `result[j]` (j in 0..nodes.length) is the bytes crossing cut j; cuts 0 and
 * nodes.length are the ends and carry nothing. Only reads by `nodes` count: values
 * read later (by backward nodes) are not part of the forward pass's traffic.
 */
export function cutBytes(g: Graph, nodes: readonly Node[]): number[] {
  const producedAt = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.outputs) if (o !== '') producedAt.set(o, i);
  });
  const lastUse = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const x of n.inputs) if (producedAt.has(x)) lastUse.set(x, i);
  });
  // Difference array: a value produced at p and last read at q crosses cuts p+1..q.
  const diff = new Array<number>(nodes.length + 2).fill(0);
  for (const [v, q] of lastUse) {
    const p = producedAt.get(v) ?? q;
    if (q <= p) continue;
    const b = valueBytes(g, v);
    diff[p + 1] = (diff[p + 1] ?? 0) + b;
    diff[q + 1] = (diff[q + 1] ?? 0) - b;
  }
  const out: number[] = [];
  let acc = 0;
  for (let j = 0; j <= nodes.length; j++) {
    acc += diff[j] ?? 0;
    out.push(j === 0 || j === nodes.length ? 0 : acc);
  }
  return out;
}
