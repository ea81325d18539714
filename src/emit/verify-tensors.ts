/**
 * Per-device checks that need no other device: ids, groups, peers and tags are well
 * formed, and every tensor is declared, defined before use, defined once (except the
 * in-place accumulate and update), and sized as each instruction says.
 */
import { dtypeBytes } from '../ir/dtype.js';
import { elementCount, type CollectiveInstruction, type DeviceProgram, type ProgramSet, type TensorDecl } from './program.js';
import { problemAt, type VerifyProblem } from './verify-problem.js';

export function checkStructure(set: ProgramSet): VerifyProblem[] {
  const problems: VerifyProblem[] = [];
  const n = set.programs.length;
  set.programs.forEach((p, i) => {
    if (p.device !== i) problems.push(problemAt('structure', p, -1, `programs[${i}] is for device ${p.device}; programs must be indexed by device id`));
    if (!Number.isInteger(p.stage) || p.stage < 0 || p.stage >= set.schedule.stages)
      problems.push(problemAt('structure', p, -1, `stage ${p.stage} outside 0..${set.schedule.stages - 1}`));
    p.instructions.forEach((ins, index) => {
      const bad = (msg: string): void => void problems.push(problemAt('structure', p, index, msg));
      if ('mb' in ins && ins.mb !== null && !(Number.isInteger(ins.mb) && ins.mb >= 0 && ins.mb < set.schedule.microbatches))
        bad(`micro-batch ${ins.mb} outside 0..${set.schedule.microbatches - 1}`);
      switch (ins.kind) {
        case 'collective': {
          const g = ins.group;
          if (g.some((d, k) => !Number.isInteger(d) || d < 0 || d >= n || (k > 0 && d <= g[k - 1]!)))
            bad(`group [${g.join(',')}] must be sorted distinct device ids in 0..${n - 1}`);
          if (!g.includes(p.device)) bad(`group [${g.join(',')}] does not contain this device`);
          if (ins.op === 'broadcast' && !g.includes(ins.root)) bad(`broadcast root ${ins.root} is not in the group`);
          if (!Number.isInteger(ins.count) || ins.count < 0) bad(`element count ${ins.count} is not a non-negative integer`);
          break;
        }
        case 'send':
        case 'recv':
          if (!Number.isInteger(ins.peer) || ins.peer < 0 || ins.peer >= n || ins.peer === p.device)
            bad(`peer ${ins.peer} must be another device in 0..${n - 1}`);
          if (!Number.isInteger(ins.tag) || ins.tag < 0 || ins.tag > 32767) bad(`tag ${ins.tag} is not an integer in 0..32767`);
          if (!Number.isInteger(ins.count) || ins.count < 0) bad(`element count ${ins.count} is not a non-negative integer`);
          break;
        case 'load':
          if (!Number.isInteger(ins.offset) || ins.offset < 0) bad(`offset ${ins.offset} is not a non-negative integer`);
          break;
        case 'compute':
        case 'accumulate':
        case 'update':
        case 'input':
          break;
        default: {
          const _: never = ins;
          return _;
        }
      }
    });
  });
  return problems;
}

const shapeText = (s: readonly number[]): string => `[${s.join(',')}]`;
const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export function checkTensors(program: DeviceProgram): VerifyProblem[] {
  const problems: VerifyProblem[] = [];
  const decls = new Map<string, TensorDecl>();
  for (const t of program.tensors) {
    if (decls.has(t.name)) problems.push(problemAt('tensors', program, -1, `tensor '${t.name}' declared twice`));
    decls.set(t.name, t);
    if (t.shape.some((d) => !Number.isInteger(d) || d < 0)) problems.push(problemAt('tensors', program, -1, `tensor '${t.name}' has shape ${shapeText(t.shape)}`));
  }
  // Where each tensor is first defined, so "used before" can say where it comes later.
  const firstDef = new Map<string, number>();
  const defined = new Set<string>(program.tensors.filter((t) => t.init === 'zeros').map((t) => t.name));

  const at = (index: number, msg: string): void => void problems.push(problemAt('tensors', program, index, msg));
  const declOf = (index: number, name: string): TensorDecl | undefined => {
    const d = decls.get(name);
    if (!d) at(index, `tensor '${name}' is not declared`);
    return d;
  };
  const read = (index: number, name: string): TensorDecl | undefined => {
    const d = declOf(index, name);
    if (d && !defined.has(name)) {
      const later = firstDef.get(name);
      at(index, later === undefined ? `tensor '${name}' is used but never defined` : `tensor '${name}' is used before it is defined (at #${later})`);
    }
    return d;
  };
  const define = (index: number, name: string): TensorDecl | undefined => {
    const d = declOf(index, name);
    if (defined.has(name)) at(index, `tensor '${name}' is defined twice (tensors are single-assignment)`);
    defined.add(name);
    return d;
  };
  const sized = (index: number, d: TensorDecl | undefined, count: number, dtype: string, what: string): void => {
    if (!d) return;
    if (elementCount(d.shape) !== count) at(index, `${what} '${d.name}' has ${elementCount(d.shape)} elements ${shapeText(d.shape)}, the instruction says ${count}`);
    if (d.dtype !== dtype) at(index, `${what} '${d.name}' is ${d.dtype}, the instruction says ${dtype}`);
  };

  program.instructions.forEach((ins, index) => {
    for (const w of ins.kind === 'accumulate' || ins.kind === 'update' ? [] : writesOf(ins)) if (!firstDef.has(w)) firstDef.set(w, index);
  });

  program.instructions.forEach((ins, index) => {
    switch (ins.kind) {
      case 'compute':
        ins.inputs.forEach((t) => read(index, t));
        ins.outputs.forEach((t) => define(index, t));
        break;
      case 'collective': {
        const input = read(index, ins.input);
        const output = define(index, ins.output);
        sized(index, input, ins.count, ins.dtype, 'input');
        if (output && output.dtype !== ins.dtype) at(index, `output '${output.name}' is ${output.dtype}, the instruction says ${ins.dtype}`);
        if (input && output) {
          const msg = collectiveShapeProblem(ins, input.shape, output.shape);
          if (msg) at(index, msg);
        }
        break;
      }
      case 'send':
        sized(index, read(index, ins.tensor), ins.count, ins.dtype, 'tensor');
        break;
      case 'recv':
        sized(index, define(index, ins.tensor), ins.count, ins.dtype, 'tensor');
        break;
      case 'accumulate': {
        const src = read(index, ins.src);
        const dst = read(index, ins.dst);
        if (src && dst && (!sameShape(src.shape, dst.shape) || src.dtype !== dst.dtype))
          at(index, `accumulates '${src.name}' ${shapeText(src.shape)} ${src.dtype} into '${dst.name}' ${shapeText(dst.shape)} ${dst.dtype}`);
        break;
      }
      case 'update': {
        const param = read(index, ins.param);
        const grad = read(index, ins.grad);
        ins.states.forEach((s) => read(index, s));
        if (param && grad && !sameShape(param.shape, grad.shape))
          at(index, `gradient '${grad.name}' ${shapeText(grad.shape)} does not match parameter '${param.name}' ${shapeText(param.shape)}`);
        break;
      }
      case 'load': {
        const d = define(index, ins.tensor);
        if (d && ins.length !== elementCount(d.shape) * dtypeBytes(d.dtype))
          at(index, `reads ${ins.length} bytes for '${d.name}' ${shapeText(d.shape)} ${d.dtype} (${elementCount(d.shape) * dtypeBytes(d.dtype)} bytes)`);
        break;
      }
      case 'input':
        define(index, ins.tensor);
        break;
      default: {
        const _: never = ins;
        return _;
      }
    }
  });
  for (const o of program.outputs) {
    if (!defined.has(o)) problems.push(problemAt('tensors', program, program.instructions.length, `output '${o}' is never defined`, o));
  }
  return problems;
}

function writesOf(ins: Exclude<DeviceProgram['instructions'][number], { kind: 'accumulate' | 'update' }>): readonly string[] {
  switch (ins.kind) {
    case 'compute':
      return ins.outputs;
    case 'collective':
      return [ins.output];
    case 'recv':
    case 'load':
    case 'input':
      return [ins.tensor];
    case 'send':
      return [];
    default: {
      const _: never = ins;
      return _;
    }
  }
}

/** Why the output's shape is not what the kind makes of the input over n members, or null. */
export function collectiveShapeProblem(ins: CollectiveInstruction, input: readonly number[], output: readonly number[]): string | null {
  const n = ins.group.length;
  const expect = (want: readonly number[] | string): string | null => {
    if (typeof want === 'string') return want;
    return sameShape(want, output) ? null : `${ins.op} over ${n} of ${shapeText(input)} gives ${shapeText(want)}, output is ${shapeText(output)}`;
  };
  const axisOk = (axis: number): boolean => Number.isInteger(axis) && axis >= 0 && axis < input.length;
  const scaled = (axis: number, f: (d: number) => number): number[] => input.map((d, i) => (i === axis ? f(d) : d));
  switch (ins.op) {
    case 'all-reduce':
    case 'broadcast':
      return expect(input);
    case 'all-gather':
      if (!axisOk(ins.axis)) return `gather axis ${ins.axis} outside the input's rank ${input.length}`;
      return expect(scaled(ins.axis, (d) => d * n));
    case 'reduce-scatter': {
      if (!axisOk(ins.axis)) return `scatter axis ${ins.axis} outside the input's rank ${input.length}`;
      const d = input[ins.axis]!;
      if (d % n !== 0) return `reduce-scatter over ${n}: input dimension ${ins.axis} of ${shapeText(input)} is not divisible by ${n}`;
      return expect(scaled(ins.axis, (x) => x / n));
    }
    case 'all-to-all': {
      if (!axisOk(ins.splitAxis) || !axisOk(ins.concatAxis)) return `all-to-all axes ${ins.splitAxis}, ${ins.concatAxis} outside the input's rank ${input.length}`;
      const d = input[ins.splitAxis]!;
      if (d % n !== 0) return `all-to-all over ${n}: input dimension ${ins.splitAxis} of ${shapeText(input)} is not divisible by ${n}`;
      const split = scaled(ins.splitAxis, (x) => x / n);
      return expect(split.map((x, i) => (i === ins.concatAxis ? x * n : x)));
    }
    default: {
      const _: never = ins;
      return _;
    }
  }
}
