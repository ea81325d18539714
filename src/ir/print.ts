/**
 * The textual form of a graph, for golden tests and `--print-ir`. Stable: values and
 * attributes print in a fixed order, floats with enough digits to round-trip.
 */
import type { HostTensor } from './host-tensor.js';
import { type AttrValue, type Graph, type TensorType, isExternal } from './types.js';

export function typeToString(t: TensorType): string {
  return `${t.dtype}[${t.shape.join(',')}]`;
}

function tensorSummary(t: HostTensor): string {
  const head = Array.from(t.data.subarray(0, 8)).map((v) => String(v));
  return `${t.dtype}[${t.shape.join(',')}]{${head.join(',')}${t.data.length > 8 ? ',...' : ''}}`;
}

function attrToString(a: AttrValue): string {
  switch (a.kind) {
    case 'int':
      return String(a.value);
    case 'float':
      // Floats keep a decimal point so that alpha=1.0 and an int 1 read differently.
      return Number.isInteger(a.value) ? a.value.toFixed(1) : String(a.value);
    case 'string':
      return JSON.stringify(a.value);
    case 'ints':
    case 'floats':
      return `[${a.value.join(',')}]`;
    case 'strings':
      return `[${a.value.map((s) => JSON.stringify(s)).join(',')}]`;
    case 'tensor':
      return tensorSummary(a.value);
    case 'graph':
      return `graph(${a.value})`;
  }
}

export function printGraph(g: Graph): string {
  const lines: string[] = [];
  const ty = (n: string): string => {
    const t = g.types.get(n);
    return t ? typeToString(t) : '?';
  };
  lines.push(`graph ${g.name} (opset ${g.opset}) {`);
  for (const i of g.inputs) lines.push(`  input ${i.name}: ${typeToString(i.type)}`);
  for (const [n, init] of [...g.initializers].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const where = isExternal(init.data) ? ` @ ${init.data.location}+${init.data.offset}` : '';
    lines.push(`  param ${n}: ${typeToString(init.type)}${where}`);
  }
  for (const [n, c] of [...g.constants].sort(([a], [b]) => (a < b ? -1 : 1))) lines.push(`  const ${n} = ${tensorSummary(c)}`);
  for (const node of g.nodes) {
    const attrs = [...node.attrs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${attrToString(v)}`);
    const outs = node.outputs.map((o) => (o === '' ? '_' : `${o}: ${ty(o)}`)).join(', ');
    const op = node.domain ? `${node.domain}.${node.op}` : node.op;
    lines.push(`  ${outs} = ${op}(${node.inputs.map((i) => (i === '' ? '_' : i)).join(', ')})${attrs.length ? ` {${attrs.join(', ')}}` : ''}  # ${node.name}`);
  }
  lines.push(`  return ${g.outputs.join(', ')}`);
  lines.push('}');
  return lines.join('\n') + '\n';
}
