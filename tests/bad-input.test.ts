/**
 * Bad inputs give one clear line on stderr and a non-zero exit through the CLI, and an
 * AutoparError with the right code through the API; never a stack trace.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoparError, type ErrorCode } from '../src/errors.js';
import { importOnnx, type ImportOptions } from '../src/onnx/import.js';
import { type CliResult, model, runCli } from './helpers/cli.js';
import { type ModelSpec, tempDir, writeModel } from './helpers/onnx-builder.js';

const tmp = tempDir('bad-input');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Case {
  readonly name: string;
  /** Creates the model file (or not) and returns its path. */
  readonly file: () => string;
  readonly dims?: Record<string, number>;
  readonly code: ErrorCode;
  /** Fragments the one-line message must contain (case-sensitive). */
  readonly mentions: (file: string) => readonly (string | RegExp)[];
}

const mlpSpec = (nodes: ModelSpec['nodes'], extra: Partial<ModelSpec> = {}): ModelSpec => ({
  inputs: [{ name: 'x', dtype: 'float32', shape: [3, 4] }],
  outputs: ['y'],
  nodes,
  ...extra,
});

const CASES: readonly Case[] = [
  {
    name: 'a truncated file (the first half of a real model)',
    file: () => {
      const bytes = fs.readFileSync(model('gpt2_tiny_opset17.onnx'));
      return writeModel(tmp, 'truncated', bytes.subarray(0, Math.floor(bytes.length / 2)));
    },
    code: 'E_PARSE',
    mentions: (f) => [f, /truncated/],
  },
  {
    name: 'a text file',
    file: () => {
      const f = path.join(tmp, 'notes.onnx');
      fs.writeFileSync(f, 'This is not a model.\nJust some notes about one.\n');
      return f;
    },
    code: 'E_PARSE',
    mentions: (f) => [f, 'not an ONNX model: it looks like a text file'],
  },
  {
    name: 'a PNG-like file',
    file: () => {
      const f = path.join(tmp, 'picture.onnx');
      const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 1, 0, 0, 0, 1, 0, 8, 6, 0, 0, 0, 0x5c, 0x72, 0xa8, 0x66]);
      fs.writeFileSync(f, png);
      return f;
    },
    code: 'E_PARSE',
    mentions: (f) => [f, 'not an ONNX model: it looks like a PNG image'],
  },
  {
    name: 'an empty file',
    file: () => {
      const f = path.join(tmp, 'empty.onnx');
      fs.writeFileSync(f, '');
      return f;
    },
    code: 'E_PARSE',
    mentions: (f) => [f, 'the file is empty'],
  },
  {
    name: 'a cyclic graph',
    file: () =>
      writeModel(
        tmp,
        'cycle',
        mlpSpec([
          { op: 'Add', name: 'add', inputs: ['x', 'b'], outputs: ['a'] },
          { op: 'Relu', name: 'relu', inputs: ['a'], outputs: ['b'] },
          { op: 'Neg', name: 'neg', inputs: ['a'], outputs: ['y'] },
        ]),
      ),
    code: 'E_GRAPH',
    // The cycle in data-flow order, without 'neg', which only reads from it.
    mentions: (f) => [f, 'the graph has a cycle: add -> relu -> add', /^(?!.*neg)/],
  },
  {
    name: 'an unknown op',
    file: () => writeModel(tmp, 'unknown-op', mlpSpec([{ op: 'FrobnicateV2', name: 'frob_1', inputs: ['x'], outputs: ['y'] }])),
    code: 'E_UNSUPPORTED_OP',
    mentions: (f) => [f, "'FrobnicateV2'", "'frob_1'", 'opset 17', /supported: .*MatMul.*Softmax/],
  },
  {
    name: 'an op from another domain',
    file: () => writeModel(tmp, 'custom-domain', mlpSpec([{ op: 'Relu', domain: 'com.example', name: 'custom_relu', inputs: ['x'], outputs: ['y'] }])),
    code: 'E_UNSUPPORTED_OP',
    mentions: (f) => [f, 'com.example', "'custom_relu'"],
  },
  {
    name: 'a node input that nothing defines',
    file: () => writeModel(tmp, 'dangling-input', mlpSpec([{ op: 'Add', name: 'add_ghost', inputs: ['x', 'ghost'], outputs: ['y'] }])),
    code: 'E_GRAPH',
    mentions: (f) => [f, "'add_ghost'", "'ghost'"],
  },
  {
    name: 'a shape mismatch (MatMul 3x4 by 5x6)',
    file: () =>
      writeModel(
        tmp,
        'shape-mismatch',
        mlpSpec([{ op: 'MatMul', name: 'mm_bad', inputs: ['x', 'w'], outputs: ['y'] }], { initializers: [{ name: 'w', dtype: 'float32', dims: [5, 6] }] }),
      ),
    code: 'E_SHAPE',
    mentions: (f) => [f, "'mm_bad'", '[3,4]', '[5,6]'],
  },
  {
    name: 'a graph output nothing produces',
    file: () => writeModel(tmp, 'missing-output', mlpSpec([{ op: 'Relu', name: 'relu', inputs: ['x'], outputs: ['h'] }])),
    code: 'E_GRAPH',
    mentions: (f) => [f, "'y'"],
  },
  {
    name: 'a missing model path',
    file: () => path.join(tmp, 'no-such-model.onnx'),
    code: 'E_FILE',
    mentions: (f) => [f, 'no such file'],
  },
  {
    name: 'a directory instead of a model',
    file: () => tmp,
    code: 'E_FILE',
    mentions: (f) => [f, 'directory'],
  },
  {
    name: '--dim naming a dimension the model lacks',
    file: () => model('gpt2_tiny_opset17.onnx'),
    dims: { seqlen: 32 },
    code: 'E_DIM',
    mentions: (f) => [f, "'seqlen'", /has: batch/],
  },
  {
    name: '--dim on a model whose dimensions are all fixed',
    file: () => model('mlp.onnx'),
    dims: { batch: 2 },
    code: 'E_DIM',
    mentions: (f) => [f, "'batch'", 'fixed'],
  },
];

function expectOneCleanLine(stderr: string): string {
  const lines = stderr.replace(/\n$/, '').split('\n');
  expect(lines, `stderr: ${stderr}`).toHaveLength(1);
  const line = lines[0] ?? '';
  expect(line).toMatch(/^autopar: /);
  expect(line).not.toMatch(/\bat .*:\d+:\d+|internal error|Error:|undefined|\[object /);
  return line;
}

describe('bad inputs: one clear line, non-zero exit, the right AutoparError', () => {
  const files = new Map<string, string>();
  const cli = new Map<string, CliResult>();
  // Half the cases with --json (stdout must stay empty there too), half without.
  const jsonFor = (index: number): boolean => index % 2 === 1;
  beforeAll(async () => {
    for (const c of CASES) files.set(c.name, c.file());
    // All CLI runs at once: each spends most of its time starting up.
    const runs = CASES.map(async (c, index) => {
      const dimArgs = Object.entries(c.dims ?? {}).flatMap(([k, v]) => ['--dim', `${k}=${v}`]);
      cli.set(c.name, await runCli(['inspect', files.get(c.name) ?? '', ...dimArgs, ...(jsonFor(index) ? ['--json'] : [])]));
    });
    await Promise.all(runs);
  });

  for (const c of CASES) {
    it(`${c.name} -> ${c.code}`, () => {
      const file = files.get(c.name) ?? c.file();
      const opts: ImportOptions = { dims: c.dims ?? {} };
      let caught: unknown;
      try {
        importOnnx(file, opts);
      } catch (e) {
        caught = e;
      }
      expect(caught, 'the import should fail').toBeInstanceOf(AutoparError);
      const err = caught as AutoparError;
      expect(err.code, err.message).toBe(c.code);
      expect(err.message).not.toContain('\n');
      for (const m of c.mentions(file)) {
        if (typeof m === 'string') expect(err.message).toContain(m);
        else expect(err.message).toMatch(m);
      }

      const r = cli.get(c.name);
      if (!r) throw new Error('the CLI did not run');
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stdout).toBe('');
      const line = expectOneCleanLine(r.stderr);
      expect(line).toBe(`autopar: ${err.message}`);
    });
  }

  it('--debug adds the stack trace (and only then)', async () => {
    const file = files.get('a shape mismatch (MatMul 3x4 by 5x6)') ?? '';
    const r = await runCli(['inspect', file, '--debug']);
    expect(r.status).not.toBe(0);
    expect(r.stderr.split('\n').length).toBeGreaterThan(2);
    expect(r.stderr).toMatch(/\bat .*:\d+:\d+/);
  });

  it('a malformed --dim is a usage error (exit 2)', async () => {
    const r = await runCli(['inspect', model('gpt2_tiny_opset17.onnx'), '--dim', 'batch=zero']);
    expect(r.status).toBe(2);
    expect(expectOneCleanLine(r.stderr)).toContain('NAME=VALUE');
  });
});

describe('bad reference folders for eval: one clear line, non-zero exit', () => {
  /** A reference folder for mlp.onnx whose manifest lists the output but no input. */
  function referenceWithoutInput(): string {
    const dir = path.join(tmp, 'mlp-no-input.reference');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(model('mlp.reference/output.bin'), path.join(dir, 'output.bin'));
    const manifest = { model: 'mlp.onnx', inputs: {}, outputs: { output: { dtype: 'float32', shape: [64, 512], file: 'output.bin' } } };
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    return dir;
  }

  it('a missing input (the model needs x, the reference gives none) -> E_REFERENCE naming the folder and the input', async () => {
    const dir = referenceWithoutInput();
    for (const json of [false, true]) {
      const r = await runCli(['eval', model('mlp.onnx'), '--reference', dir, ...(json ? ['--json'] : [])]);
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stdout).toBe('');
      const line = expectOneCleanLine(r.stderr);
      expect(line).toContain(dir);
      expect(line).toContain("no value for input 'x' (float32[64,512]) of mlp.onnx");
    }
  });
});
