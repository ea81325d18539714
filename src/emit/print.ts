/**
 * Prints a DeviceProgram as one readable ES module for tfjs (the interface it calls is
 * step-api.ts): a header with device, stage and mesh, the table of local tensors, and
 * `step` with one line per instruction, each commented with the graph node or the
 * plan value it serves. Tensors are named t0, t1, ... in declaration order, so names
 * are stable and always valid identifiers whatever the model called them; every
 * string from the model goes through JSON.stringify, every comment is one line.
 */
import { dtypeBytes } from '../ir/dtype.js';
import { elementCount, instructionBytes, uses, type DeviceProgram, type Instruction, type ProgramSet } from './program.js';

/** ONNX ops with no attributes and one output that are one tf call. */
const TF_CALLS: Readonly<Record<string, string>> = {
  MatMul: 'matMul',
  Add: 'add',
  Sub: 'sub',
  Mul: 'mul',
  Div: 'div',
  Pow: 'pow',
  Relu: 'relu',
  Tanh: 'tanh',
  Sigmoid: 'sigmoid',
  Exp: 'exp',
  Log: 'log',
  Neg: 'neg',
  Sqrt: 'sqrt',
  Erf: 'erf',
  Identity: 'clone',
};

const IDENT = /^[A-Za-z_$][\w$]*$/;
const str = (s: string): string => JSON.stringify(s);
const oneLine = (s: string): string => s.replace(/[\r\n\u2028\u2029]+/g, ' ');
const list = (xs: readonly (number | string)[]): string => `[${xs.join(', ')}]`;

export interface PrintedProgram {
  readonly device: number;
  /** File name inside DIR/devices/. */
  readonly file: string;
  readonly text: string;
}

export function printPrograms(set: ProgramSet): readonly PrintedProgram[] {
  return set.programs.map((p) => ({ device: p.device, file: `device-${p.device}.mjs`, text: printProgram(p) }));
}

export function printProgram(p: DeviceProgram): string {
  const ids = new Map<string, string>();
  const id = (name: string): string => {
    let v = ids.get(name);
    if (v === undefined) ids.set(name, (v = `t${ids.size}`));
    return v;
  };
  p.tensors.forEach((t) => id(t.name));
  const decl = new Map(p.tensors.map((t) => [t.name, t]));

  // Tensors written more than once (in place, or by a broken program) are `let` at the top.
  const defs = new Map<string, number>();
  const mutable = new Set<string>(p.tensors.filter((t) => t.init === 'zeros').map((t) => t.name));
  for (const ins of p.instructions) {
    const w = uses(ins).writes;
    if (ins.kind === 'accumulate' || ins.kind === 'update') w.forEach((t) => mutable.add(t));
    for (const t of w) defs.set(t, (defs.get(t) ?? 0) + 1);
  }
  for (const [t, k] of defs) if (k > 1) mutable.add(t);
  for (const ins of p.instructions) {
    const w = uses(ins).writes;
    if (w.some((t) => mutable.has(t))) w.forEach((t) => mutable.add(t));
  }
  const bind = (t: string): string => (mutable.has(t) ? `${id(t)} =` : `const ${id(t)} =`);

  const lines: string[] = [];
  lines.push(...header(p));
  lines.push(`export const device = ${p.device};`);
  lines.push(`export const stage = ${p.stage};`);
  lines.push(`export const mesh = ${JSON.stringify(p.mesh)};`);
  lines.push('/** Model names of the local tensors: tN is names[N]. */');
  lines.push(`export const names = ${JSON.stringify(p.tensors.map((t) => t.name))};`);
  lines.push('');
  lines.push('export async function step({ tf, comm, weights, inputs, kernels, optimizer }) {');
  for (const t of [...mutable].sort((a, b) => order(id(a)) - order(id(b)))) {
    const d = decl.get(t);
    if (d?.init === 'zeros') lines.push(`  let ${id(t)} = tf.zeros(${list(d.shape)}, ${str(d.dtype)}); // ${oneLine(t)}: zeros`);
    else lines.push(`  let ${id(t)}; // ${oneLine(t)}`);
  }
  const typeOf = (t: string, count: number, dtype: string): string => {
    const d = decl.get(t);
    return d ? `${list(d.shape)}, ${str(d.dtype)}` : `${list([count])}, ${str(dtype)}`;
  };
  const names: Names = { id, bind, typeOf };
  p.instructions.forEach((ins, i) => lines.push(`  ${statement(ins, names)} // #${i} ${oneLine(comment(ins, p))}`));
  const outs = p.outputs.map((o) => `${str(o)}: ${id(o)}`);
  lines.push(outs.length === 0 ? '  return {};' : `  return { ${outs.join(', ')} };`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

const order = (v: string): number => Number(v.slice(1));

function header(p: DeviceProgram): string[] {
  const counts = new Map<string, number>();
  for (const ins of p.instructions) counts.set(ins.kind, (counts.get(ins.kind) ?? 0) + 1);
  const pos = p.mesh.devices.indexOf(p.device);
  const coords: number[] = [];
  let rest = pos;
  for (let a = p.mesh.shape.length - 1; a >= 0; a--) {
    const size = p.mesh.shape[a]!;
    coords.unshift(rest % size);
    rest = Math.floor(rest / size);
  }
  const meshText = `mesh ${list(p.mesh.shape)} (${p.mesh.axes.join(', ')}) over devices ${list(p.mesh.devices)}`;
  const out = [
    '// autopar device program (generated: deterministic, do not edit)',
    `// device ${p.device}, stage ${p.stage}, ${oneLine(meshText)}${pos >= 0 ? `, this device at ${list(coords)}` : ''}`,
    `// ${p.tensors.length} tensors, ${p.instructions.length} instructions: ${[...counts.entries()].map(([k, v]) => `${v} ${k}`).join(', ')}`,
    '// The runtime interface it calls is src/emit/step-api.ts (comm takes and returns tensors).',
    '//',
    '// Local tensors (this device\'s shards):',
  ];
  p.tensors.forEach((t, i) => {
    out.push(`//   t${i}  ${oneLine(t.name)}  ${list(t.shape)} ${t.dtype}  ${oneLine(t.sharding)}${t.source !== t.name ? `  of ${oneLine(t.source)}` : ''}${t.init ? `  (${t.init})` : ''}`);
  });
  out.push('');
  return out;
}

interface Names {
  readonly id: (t: string) => string;
  /** `const tN =` or `tN =` for a tensor written more than once. */
  readonly bind: (t: string) => string;
  /** Declared shape and dtype; a flat count for an undeclared tensor (the verifier reports it). */
  readonly typeOf: (t: string, count: number, dtype: string) => string;
}

function statement(ins: Instruction, { id, bind, typeOf }: Names): string {
  switch (ins.kind) {
    case 'compute': {
      const args = ins.inputs.map(id).join(', ');
      const tfCall = TF_CALLS[ins.op];
      const call =
        tfCall !== undefined && ins.outputs.length === 1 && Object.keys(ins.attrs).length === 0
          ? `tf.${tfCall}(${args})`
          : `${IDENT.test(ins.op) ? `kernels.${ins.op}` : `kernels[${str(ins.op)}]`}(tf, [${args}], ${JSON.stringify(ins.attrs)})`;
      const [only] = ins.outputs;
      if (ins.outputs.length === 0) return `${call};`;
      if (ins.outputs.length === 1 && only !== undefined) return `${bind(only)} ${call};`;
      const pattern = `[${ins.outputs.map(id).join(', ')}]`;
      // Outputs are all let or all const (print sets them together).
      return ins.outputs.some((t) => bind(t).startsWith('const')) ? `const ${pattern} = ${call};` : `${pattern} = ${call};`;
    }
    case 'collective': {
      const g = list(ins.group);
      const label = str(ins.label);
      const x = id(ins.input);
      switch (ins.op) {
        case 'all-reduce':
          return `${bind(ins.output)} await comm.allReduce(${x}, ${g}, ${label});`;
        case 'all-gather':
          return `${bind(ins.output)} await comm.allGather(${x}, ${g}, ${ins.axis}, ${label});`;
        case 'reduce-scatter':
          return `${bind(ins.output)} await comm.reduceScatter(${x}, ${g}, ${ins.axis}, ${label});`;
        case 'all-to-all':
          return `${bind(ins.output)} await comm.allToAll(${x}, ${g}, ${ins.splitAxis}, ${ins.concatAxis}, ${label});`;
        case 'broadcast':
          return `${bind(ins.output)} await comm.broadcast(${x}, ${ins.root}, ${g}, ${label});`;
        default: {
          const _: never = ins;
          return _;
        }
      }
    }
    case 'send':
      return `await comm.send(${id(ins.tensor)}, ${ins.peer}, ${ins.tag}, ${str(ins.label)});`;
    case 'recv':
      return `${bind(ins.tensor)} await comm.recv(${ins.peer}, ${ins.tag}, ${typeOf(ins.tensor, ins.count, ins.dtype)}, ${str(ins.label)});`;
    case 'accumulate':
      return `${id(ins.dst)} = tf.add(${id(ins.dst)}, ${id(ins.src)});`;
    case 'update': {
      const targets = [ins.param, ...ins.states].map(id).join(', ');
      return `[${targets}] = optimizer.update(${str(ins.optimizer)}, ${id(ins.param)}, ${id(ins.grad)}, [${ins.states.map(id).join(', ')}], ${str(ins.label)});`;
    }
    case 'load':
      return `${bind(ins.tensor)} await weights.load(${str(ins.path)}, ${ins.offset}, ${ins.length}, ${typeOf(ins.tensor, ins.length, 'uint8')});`;
    case 'input':
      return `${bind(ins.tensor)} inputs.get(${str(ins.name)}, ${ins.mb === null ? 'null' : ins.mb});`;
    default: {
      const _: never = ins;
      return _;
    }
  }
}

function comment(ins: Instruction, p: DeviceProgram): string {
  const mb = 'mb' in ins && ins.mb !== null ? `, mb ${ins.mb}` : '';
  switch (ins.kind) {
    case 'compute':
      return `node ${ins.node}${ins.op in TF_CALLS ? '' : ` (${ins.op})`}${mb}`;
    case 'collective':
      return `${ins.op} ${ins.count} x ${ins.dtype} (${instructionBytes(ins)} B) of ${ins.value} for ${ins.consumer}${mb}`;
    case 'send':
      return `send ${ins.tensor} (${instructionBytes(ins)} B) to device ${ins.peer}${mb}`;
    case 'recv':
      return `recv ${ins.tensor} (${instructionBytes(ins)} B) from device ${ins.peer}${mb}`;
    case 'accumulate':
      return `accumulate ${ins.dst} += ${ins.src}${mb}`;
    case 'update':
      return `${ins.optimizer} step of ${ins.param}`;
    case 'load': {
      const d = p.tensors.find((t) => t.name === ins.tensor);
      return `weights of ${d?.source ?? ins.tensor}${d ? ` (${elementCount(d.shape) * dtypeBytes(d.dtype)} B)` : ''}`;
    }
    case 'input':
      return `input ${ins.name}${mb}`;
    default: {
      const _: never = ins;
      return _;
    }
  }
}
