/**
 * The device-program printer: deterministic text with a header and one commented line
 * per instruction, valid JavaScript module syntax for every synthetic set and for
 * hostile names, and (with stub tf/comm) a module that calls the collectives in the
 * program's order.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ProgramBuilder } from '../src/emit/builder.js';
import { printProgram, printPrograms } from '../src/emit/print.js';
import type { MeshInfo, ProgramSet } from '../src/emit/program.js';
import { dataParallelSet, mesh2x2Set, pipelineSet } from '../src/emit/synthetic.js';
import { verifyPrograms } from '../src/emit/verify.js';

const dp4 = (): ProgramSet => dataParallelSet({ devices: 4, layers: 2, rows: 2, width: 4 });

/** A set whose every name is hostile to printing: quotes, newlines, comment ends, non-identifiers. */
function hostileSet(): ProgramSet {
  const mesh: MeshInfo = { shape: [2], axes: ['a"x\n*/'], devices: [0, 1] };
  const programs = [0, 1].map((d) => {
    const b = new ProgramBuilder(d, 0, mesh);
    b.tensor('in"put\n*/', [2, 2], { sharding: 'S(a"x)\nR' }).input('in"put\n*/', 'x\u2028y`${1}`');
    b.tensor("o'ut\\", [2, 2]).compute('com.microsoft::Gelu', '/h.0/mlp/act\n// */ evil', ['in"put\n*/'], ["o'ut\\"], { 'k"ey': ['v\n', 1.5, null, { '*/': true }] });
    b.tensor('class', [2]).tensor('await', [2]).compute('Split', '/split', ["o'ut\\"], ['class', 'await'], { axis: 0 });
    b.collective({ op: 'all-reduce' }, { input: 'class', output: 'r"\n', group: [0, 1], value: "v'\"\n", consumer: '*/c' });
    if (d === 0) b.send(1, 7, 'await', 'lab"el\n*/');
    else b.tensor('got', [2]).recv(0, 7, 'got', 'lab"el\n*/');
    return b.output('r"\n').build();
  });
  return { schedule: { kind: 'none', stages: 1, microbatches: 1 }, programs };
}

const SETS: readonly [string, () => ProgramSet][] = [
  ['data parallel', dp4],
  ['2x2 mesh', () => mesh2x2Set()],
  ['1f1b pipeline dp 2', () => pipelineSet({ schedule: '1f1b', stages: 2, microbatches: 4, dp: 2, rows: 2, width: 4 })],
  ['hostile names', hostileSet],
];

/** Parses each text as an ES module: vm.SourceTextModule when node exposes it, else `node --check` (spawned, not blocking). */
async function syntaxErrors(texts: readonly string[]): Promise<(string | null)[]> {
  const SourceTextModule: unknown = Reflect.get(vm, 'SourceTextModule');
  if (typeof SourceTextModule === 'function') {
    return texts.map((text) => {
      try {
        Reflect.construct(SourceTextModule, [text]);
        return null;
      } catch (e) {
        return String(e);
      }
    });
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'autopar-print-'));
  try {
    return await Promise.all(
      texts.map(async (text, i) => {
        const file = path.join(dir, `m${i}.mjs`);
        await fs.writeFile(file, text);
        return await new Promise<string | null>((resolve, reject) => {
          const child = spawn(process.execPath, ['--check', file], { stdio: ['ignore', 'ignore', 'pipe'] });
          let err = '';
          child.stderr.on('data', (c: Buffer) => (err += c.toString()));
          child.on('error', reject);
          child.on('close', (code) => resolve(code === 0 ? null : err || `exit ${code}`));
        });
      }),
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

describe('printProgram', () => {
  it('writes a header, stable names and one commented line per instruction', () => {
    const set = dp4();
    const text = printProgram(set.programs[2]!);
    expect(text).toBe(printProgram(dp4().programs[2]!));
    const lines = text.split('\n');
    expect(lines[0]).toBe('// autopar device program (generated: deterministic, do not edit)');
    expect(lines[1]).toBe('// device 2, stage 0, mesh [4] (dp) over devices [0, 1, 2, 3], this device at [2]');
    expect(text).toContain('export async function step({ tf, comm, weights, inputs, kernels, optimizer }) {');
    // W1 is t0, x is t6: the first layer's MatMul.
    expect(lines).toContain('  const t8 = tf.matMul(t6, t0); // #4 node /layer1/MatMul');
    expect(text).toMatch(/ = await comm\.allReduce\(t\d+, \[0, 1, 2, 3\], "W2\.grad->update\/W2#0"\); \/\/ #\d+ all-reduce 16 x float32 \(64 B\) of W2\.grad for update\/W2\n/);
    expect(text).toContain('[t0, t1, t2] = optimizer.update("adam", t0, ');
    expect(text).toContain('  return { "loss": ');
    // One statement line per instruction.
    expect(lines.filter((l) => / \/\/ #\d+ /.test(l))).toHaveLength(set.programs[2]!.instructions.length);
  });

  it('names pipeline sends, recvs and accumulations with their micro-batch', () => {
    const text = printProgram(pipelineSet({ schedule: '1f1b', stages: 2, microbatches: 2, dp: 1, rows: 2, width: 4 }).programs[0]!);
    expect(text).toContain('  let t1 = tf.zeros([4, 4], "float32"); // acc: zeros');
    expect(text).toContain('await comm.send(t3, 1, 0, "act0->1@0"); // #3 send h@0 (32 B) to device 1, mb 0');
    expect(text).toContain('const t6 = await comm.recv(1, 1, [2, 4], "float32", "grad1->0@0");');
    expect(text).toContain('  t1 = tf.add(t1, t7); // #9 accumulate acc += dW@0, mb 0');
  });

  it('gives one file per device', () => {
    const files = printPrograms(mesh2x2Set());
    expect(files.map((f) => f.file)).toEqual(['device-0.mjs', 'device-1.mjs', 'device-2.mjs', 'device-3.mjs']);
    expect(new Set(files.map((f) => f.text)).size).toBe(4);
  });

  it('hostile names stay inside string literals and single-line comments', () => {
    const set = hostileSet();
    expect(verifyPrograms(set).ok).toBe(true);
    const text = printProgram(set.programs[0]!);
    expect(text).toContain('kernels["com.microsoft::Gelu"](tf, [t0], {"k\\"ey":["v\\n",1.5,null,{"*/":true}]});');
    expect(text).toContain('await comm.send(t3, 1, 7, "lab\\"el\\n*/");');
    // Every line that is not code is a comment: nothing leaked onto a line of its own.
    for (const line of text.split('\n')) expect(line === '' || /^(\/\/|export |\/\*\*|  |\})/.test(line), line).toBe(true);
  });
});

describe('printed modules are valid JavaScript', () => {
  it('every device of every set parses as an ES module', async () => {
    const texts = SETS.flatMap(([, make]) => printPrograms(make()).map((p) => p.text));
    const errors = await syntaxErrors(texts);
    expect(errors).toEqual(texts.map(() => null));
  });

  it('the check itself rejects a broken module', async () => {
    const text = printProgram(dp4().programs[0]!);
    const errors = await syntaxErrors([text.replace(/\}\n$/, '\n'), text.replace('const t8 =', 'const t8 = const')]);
    expect(errors.every((e) => e !== null)).toBe(true);
  });

  it('run with stub tf and comm, a module makes the program\'s collective calls in order', async () => {
    const program = dp4().programs[1]!;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'autopar-run-'));
    try {
      const file = path.join(dir, 'device-1.mjs');
      await fs.writeFile(file, printProgram(program));
      const mod: unknown = await import(pathToFileURL(file).href);
      const step: unknown = typeof mod === 'object' && mod !== null ? Reflect.get(mod, 'step') : undefined;
      if (typeof step !== 'function') throw new Error('no step export');
      const calls: string[] = [];
      const tensor = (what: string): { what: string } => ({ what });
      const fns = new Proxy({}, { get: (_t, key) => (...args: unknown[]) => tensor(`${String(key)}/${args.length}`) });
      const comm = {
        allReduce: async (_t: unknown, group: number[], label: string) => (calls.push(`all-reduce [${group.join(',')}] ${label}`), tensor(label)),
      };
      const ctx = {
        tf: fns,
        comm,
        weights: { load: async (p: string) => tensor(p) },
        inputs: { get: (name: string) => tensor(name) },
        kernels: new Proxy({}, { get: (_t, key) => () => tensor(String(key)) }),
        optimizer: { update: (_k: string, p: unknown, _g: unknown, states: unknown[]) => [p, ...states] },
      };
      const out: unknown = await Reflect.apply(step, undefined, [ctx]);
      const want = program.instructions.flatMap((i) => (i.kind === 'collective' ? [`all-reduce [${i.group.join(',')}] ${i.label}`] : []));
      expect(calls).toEqual(want);
      expect(out).toEqual({ loss: { what: 'MseLoss' } });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
