/**
 * The IR verifier, run after every pass: every value defined once, every use after its
 * definition (so the graph is acyclic), every value typed, and every node's recorded
 * output types equal to what its op infers from its inputs.
 */
import { AutoparError } from '../errors.js';
import type { NodeContext } from '../ops/op.js';
import { opFor } from '../ops/registry.js';
import { fmtShape } from '../ops/util.js';
import type { HostTensor } from './host-tensor.js';
import { type Graph, type TensorType, inlineData } from './types.js';

function sameType(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

export function verifyGraph(g: Graph, after = 'import'): void {
  const bad = (msg: string): never => {
    throw new AutoparError('E_INTERNAL', `IR verification failed after ${after}: ${msg}`);
  };
  const defined = new Set<string>();
  const define = (name: string, by: string): void => {
    if (defined.has(name)) bad(`value '${name}' is defined twice (again by ${by})`);
    if (!g.types.has(name)) bad(`value '${name}' (${by}) has no type`);
    defined.add(name);
  };
  for (const i of g.inputs) define(i.name, 'a graph input');
  for (const n of g.initializers.keys()) define(n, 'an initializer');
  for (const n of g.constants.keys()) define(n, 'a constant');
  const constantOf = (name: string): HostTensor | undefined => {
    const c = g.constants.get(name);
    if (c) return c;
    const init = g.initializers.get(name);
    return init ? inlineData(init.data) : undefined;
  };
  for (const node of g.nodes) {
    node.inputs.forEach((inp) => {
      if (inp !== '' && !defined.has(inp)) bad(`node '${node.name}' uses '${inp}' before it is defined`);
    });
    const op = opFor(node, g.opset);
    const ctx: NodeContext = {
      node,
      opset: g.opset,
      inputs: node.inputs.map((n) => (n === '' ? undefined : g.types.get(n))),
      constant: (i) => {
        const n = node.inputs[i];
        return n ? constantOf(n) : undefined;
      },
    };
    const inferred = op.infer(ctx);
    node.outputs.forEach((o, i) => {
      if (o === '') return;
      define(o, `node '${node.name}'`);
      const want = inferred[i];
      const got = g.types.get(o);
      if (want && got && !sameType(want, got)) {
        bad(`node '${node.name}' output '${o}' is recorded as ${got.dtype}${fmtShape(got.shape)} but infers as ${want.dtype}${fmtShape(want.shape)}`);
      }
    });
  }
  for (const o of g.outputs) if (!defined.has(o)) bad(`graph output '${o}' is not defined`);
}
