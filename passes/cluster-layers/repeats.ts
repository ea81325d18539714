/**
 * Repeated-block detection for layer clustering: the period of the forward pass's
 * operator sequence (a transformer's block) and how many times it repeats. The inter-op
 * pass prices each distinct layer once, so layers that line up with blocks make most
 * layers identical; this tells it how many blocks there are.
 */
import type { Graph, Node } from '../../src/ir/types.js';
import { splitOrder } from './forward-order.js';

export interface Repetition {
  /** Forward nodes per block. */
  readonly period: number;
  /** Blocks found (at least 2 when a repetition exists). */
  readonly blocks: number;
}

/** Op type and input ranks: what repeats from block to block (shapes do too; names do not). */
function token(g: Graph, n: Node): string {
  return `${n.op}/${n.inputs.map((v) => g.types.get(v)?.shape.length ?? '-').join('')}`;
}

export function detectRepetition(g: Graph, forwardNodes: number): Repetition | undefined {
  const nodes = g.nodes.slice(0, forwardNodes);
  const order = splitOrder(g, nodes);
  const ids = new Map<string, number>();
  const seq = order.map((i) => {
    const t = token(g, nodes[i] as Node);
    let id = ids.get(t);
    if (id === undefined) ids.set(t, (id = ids.size));
    return id;
  });
  const n = seq.length;
  // matches[P]: positions where the sequence equals itself shifted by P.
  let bestMatches = 0;
  const matches = new Array<number>(Math.floor(n / 2) + 1).fill(0);
  for (let p = 1; p <= n / 2; p++) {
    let m = 0;
    for (let i = 0; i + p < n; i++) if (seq[i] === seq[i + p]) m++;
    matches[p] = m;
    bestMatches = Math.max(bestMatches, m);
  }
  if (bestMatches < n / 2) return undefined;
  // Multiples of the block match almost as well: take the smallest period close to the best.
  for (let p = 2; p <= n / 2; p++) {
    const m = matches[p] ?? 0;
    if (m >= 0.9 * bestMatches) {
      const blocks = Math.round((m + p) / p);
      return blocks >= 2 ? { period: p, blocks } : undefined;
    }
  }
  return undefined;
}
