/**
 * Tie groups as a partition of the nodes: overlapping groups merge, untied nodes stand
 * alone. Both the reduction and the brute force enumerate over these groups.
 */

export interface TieGroups {
  /** Group index of each node. */
  readonly groupOf: readonly number[];
  /** Members of each group, ascending; groups ordered by their first member. */
  readonly members: readonly (readonly number[])[];
}

export function tieGroups(nodeCount: number, ties: readonly (readonly number[])[]): TieGroups {
  const parent = Array.from({ length: nodeCount }, (_, i) => i);
  const find = (x: number): number => {
    let root = x;
    while (parent[root] !== root) root = parent[root] ?? root;
    // Path compression keeps long tie lists (every layer of a deep model) near-linear.
    let cur = x;
    while (parent[cur] !== root) {
      const next = parent[cur] ?? root;
      parent[cur] = root;
      cur = next;
    }
    return root;
  };
  for (const group of ties) {
    const first = group[0];
    if (first === undefined) continue;
    for (const node of group) {
      const a = find(first);
      const b = find(node);
      // The smaller index becomes the root so group order follows node order.
      if (a < b) parent[b] = a;
      else if (b < a) parent[a] = b;
    }
  }
  const groupOf: number[] = new Array<number>(nodeCount);
  const members: number[][] = [];
  const indexOfRoot = new Map<number, number>();
  for (let node = 0; node < nodeCount; node++) {
    const root = find(node);
    let g = indexOfRoot.get(root);
    if (g === undefined) {
      g = members.length;
      indexOfRoot.set(root, g);
      members.push([]);
    }
    groupOf[node] = g;
    members[g]?.push(node);
  }
  return { groupOf, members };
}
