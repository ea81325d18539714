/**
 * The IR verifier (src/ir/verify.ts), run after every pass: a valid imported graph
 * passes, and each broken invariant is reported: a value defined twice, a use before
 * its definition (a cycle, or nodes out of order), an untyped value, a recorded type
 * that disagrees with what the op infers, and a graph output nothing defines.
 */
import { describe, expect, it } from 'vitest';
import { AutoparError } from '../src/errors.js';
import type { Graph, Node, TensorType } from '../src/ir/types.js';
import { verifyGraph } from '../src/ir/verify.js';
import { importBytes } from '../src/onnx/import.js';
import { buildModel } from './helpers/onnx-builder.js';

/** x[2,4] -> Gemm(W^T, b) -> h[2,3] -> Relu -> r -> Neg -> y. */
function valid(): Graph {
  return importBytes(
    buildModel({
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 4] }],
      outputs: ['y'],
      initializers: [
        { name: 'W', dtype: 'float32', dims: [3, 4] },
        { name: 'b', dtype: 'float32', dims: [3] },
      ],
      nodes: [
        { op: 'Gemm', name: 'fc', inputs: ['x', 'W', 'b'], outputs: ['h'], attrs: { transB: { int: 1 } } },
        { op: 'Relu', name: 'act', inputs: ['h'], outputs: ['r'] },
        { op: 'Neg', name: 'neg', inputs: ['r'], outputs: ['y'] },
      ],
    }),
    'verify.onnx',
  ).graph;
}

function node(name: string, op: string, inputs: string[], outputs: string[]): Node {
  return { name, op, domain: '', inputs, outputs, attrs: new Map() };
}

function withTypes(g: Graph, extra: Readonly<Record<string, TensorType>>): ReadonlyMap<string, TensorType> {
  return new Map([...g.types, ...Object.entries(extra)]);
}

/** The verifier's message for g, or undefined when it passes. */
function verdict(g: Graph): string | undefined {
  try {
    verifyGraph(g, 'test-pass');
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(AutoparError);
    if (!(e instanceof AutoparError)) throw e;
    expect(e.code).toBe('E_INTERNAL');
    return e.message;
  }
}

describe('IR verifier', () => {
  it('accepts a graph as the importer leaves it', () => {
    const g = valid();
    expect(g.nodes.map((n) => n.op)).toEqual(['Gemm', 'Relu', 'Neg']);
    expect(verdict(g)).toBeUndefined();
  });

  it('rejects a value defined twice (a node writing a value another node defines)', () => {
    const g = valid();
    const nodes = [...g.nodes.slice(0, 2), node('again', 'Relu', ['h'], ['r']), ...g.nodes.slice(2)];
    expect(verdict({ ...g, nodes })).toMatch(/after test-pass: value 'r' is defined twice \(again by node 'again'\)/);
  });

  it('rejects a node output that shadows a graph input', () => {
    const g = valid();
    const nodes = [...g.nodes, node('shadow', 'Relu', ['y'], ['x'])];
    expect(verdict({ ...g, nodes })).toMatch(/value 'x' is defined twice/);
  });

  it('rejects a cycle: d = Relu(c), c = Relu(d)', () => {
    const g = valid();
    const f32: TensorType = { dtype: 'float32', shape: [2, 3] };
    const nodes = [node('a', 'Relu', ['c'], ['d']), node('b', 'Relu', ['d'], ['c']), ...g.nodes];
    expect(verdict({ ...g, nodes, types: withTypes(g, { c: f32, d: f32 }) })).toMatch(/node 'a' uses 'c' before it is defined/);
  });

  it('rejects nodes out of topological order', () => {
    const g = valid();
    const nodes = [...g.nodes].reverse();
    expect(verdict({ ...g, nodes })).toMatch(/node 'neg' uses 'r' before it is defined/);
  });

  it('rejects a value without a type', () => {
    const g = valid();
    const types = new Map(g.types);
    types.delete('r');
    expect(verdict({ ...g, types })).toMatch(/value 'r' \(node 'act'\) has no type/);
  });

  it('rejects a recorded type that disagrees with inference (shape, then dtype)', () => {
    const g = valid();
    expect(verdict({ ...g, types: withTypes(g, { h: { dtype: 'float32', shape: [2, 4] } }) })).toMatch(
      /node 'fc' output 'h' is recorded as float32\[2,4\] but infers as float32\[2,3\]/,
    );
    expect(verdict({ ...g, types: withTypes(g, { y: { dtype: 'float16', shape: [2, 3] } }) })).toMatch(
      /node 'neg' output 'y' is recorded as float16\[2,3\] but infers as float32\[2,3\]/,
    );
  });

  it('rejects a graph output that nothing defines', () => {
    const g = valid();
    expect(verdict({ ...g, outputs: ['y', 'ghost'] })).toMatch(/graph output 'ghost' is not defined/);
  });
});
