/** Dead-code removal: nodes, constants and initializers that no graph output depends on. */
import type { Graph, Initializer, Node, TensorType } from '../src/ir/types.js';
import type { HostTensor } from '../src/ir/host-tensor.js';

export function removeDeadCode(g: Graph): Graph {
  const live = new Set<string>(g.outputs);
  const kept: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n) continue;
    if (!n.outputs.some((o) => live.has(o))) continue;
    kept.push(n);
    for (const inp of n.inputs) if (inp !== '') live.add(inp);
  }
  kept.reverse();
  const constants = new Map<string, HostTensor>([...g.constants].filter(([k]) => live.has(k)));
  const initializers = new Map<string, Initializer>([...g.initializers].filter(([k]) => live.has(k)));
  const defined = new Set<string>([...g.inputs.map((i) => i.name), ...constants.keys(), ...initializers.keys()]);
  for (const n of kept) for (const o of n.outputs) defined.add(o);
  const types = new Map<string, TensorType>([...g.types].filter(([k]) => defined.has(k)));
  return { ...g, nodes: kept, constants, initializers, types };
}
