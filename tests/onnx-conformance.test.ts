/**
 * ONNX backend conformance: every case vendored in tests/fixtures/onnx-node (see its
 * README) is imported, executed on the tfjs backend and compared with ONNX's expected
 * outputs; cases that test features autopar does not implement must be rejected with
 * a clear AutoparError instead. A case is one test, named after its folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AutoparError, type ErrorCode } from '../src/errors.js';
import { isFloat } from '../src/ir/dtype.js';
import type { HostTensor } from '../src/ir/host-tensor.js';
import { isExternal } from '../src/ir/types.js';
import { importBytes } from '../src/onnx/import.js';
import { type ITensorProto, type ModelProto, onnx } from '../src/onnx/proto.js';
import { decodeTensor } from '../src/onnx/tensor.js';
import { supportedOps } from '../src/ops/registry.js';
import { compareTensors } from '../src/reference/compare.js';
import { execute } from '../src/runtime/executor.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'onnx-node');
const TOLERANCE = 1e-4;

/**
 * Supported ops with no vendored case: libonnx-testdata 1.12 has none at opsets 13..21
 * (nor one that can be re-stamped to 13). Keep this as short as the data allows.
 */
const NO_CASE_ALLOWED: Readonly<Record<string, string>> = {
  // Gelu entered ONNX at opset 20 (ONNX 1.15); the 1.12 test data predates it.
  // tests/gelu-conformance.test.ts runs ONNX's Gelu cases rebuilt, against onnxruntime.
  Gelu: 'added in opset 20, after ONNX 1.12 (see tests/gelu-conformance.test.ts)',
};

interface Rejection {
  readonly code: ErrorCode;
  /** A fragment the message must contain, so the error says what is unsupported. */
  readonly says: string;
  readonly reason: string;
}

/** Cases that test what autopar deliberately does not implement: they must fail loudly. */
const EXPECTED_UNSUPPORTED: Readonly<Record<string, Rejection>> = {
  ...Object.fromEntries(
    ['test_batchnorm_epsilon_training_mode', 'test_batchnorm_example_training_mode'].map((n) => [
      n,
      { code: 'E_UNSUPPORTED_OP', says: 'training_mode=1 is not supported', reason: 'BatchNormalization in training mode (batch statistics, running-mean outputs); autopar takes models exported in eval mode' },
    ]),
  ),
  ...Object.fromEntries(
    ['', '_default', '_default_mask', '_mask', '_zero_ratio', '_zero_ratio_mask'].map((s) => [
      `test_training_dropout${s}`,
      { code: 'E_UNSUPPORTED_OP', says: 'only inference mode is supported', reason: 'Dropout with training_mode=true: a random mask that cannot reproduce the reference generator; inference-mode Dropout is supported' },
    ]),
  ),
  ...Object.fromEntries(
    ['test_cast_FLOAT_to_STRING', 'test_castlike_FLOAT_to_STRING_expanded'].map((n) => [
      n,
      { code: 'E_UNSUPPORTED_OP', says: 'casts to string are not supported', reason: 'string tensors never reach devices' },
    ]),
  ),
  ...Object.fromEntries(
    ['test_cast_STRING_to_FLOAT', 'test_castlike_STRING_to_FLOAT_expanded'].map((n) => [
      n,
      { code: 'E_UNSUPPORTED_OP', says: 'casts from string are not supported', reason: 'string tensors never reach devices' },
    ]),
  ),
  test_einsum_batch_diagonal: {
    code: 'E_UNSUPPORTED_OP',
    says: 'ellipsis',
    reason: "Einsum with an ellipsis ('...') and a diagonal ('ii'); explicit subscripts without repeated letters are supported",
  },
  test_identity_opt: { code: 'E_UNSUPPORTED_OP', says: 'is an optional, not a tensor', reason: 'optional-typed values; only dense tensors are supported' },
  test_identity_sequence: { code: 'E_UNSUPPORTED_OP', says: 'is a sequence, not a tensor', reason: 'sequence-typed values; only dense tensors are supported' },
};

/**
 * Cases compared with a looser tolerance, each with why. ONNX 1.12 made its float ->
 * bfloat16 expectations by truncating the float's bits; autopar rounds to nearest even,
 * as PyTorch, onnxruntime and later ONNX releases do. The results then differ by at
 * most one bfloat16 ulp, 2^-7 relative to the largest magnitude.
 */
const TOLERANCE_OVERRIDES: Readonly<Record<string, { readonly tolerance: number; readonly reason: string }>> = Object.fromEntries(
  ['test_cast_FLOAT_to_BFLOAT16', 'test_castlike_FLOAT_to_BFLOAT16_expanded'].map((n) => [
    n,
    { tolerance: 2 ** -7, reason: 'ONNX 1.12 truncates float to bfloat16; autopar rounds to nearest even (one bfloat16 ulp apart)' },
  ]),
);

interface CaseData {
  readonly inputs: readonly ITensorProto[];
  readonly outputs: readonly ITensorProto[];
}

interface Case {
  readonly name: string;
  readonly dir: string;
  readonly model: ModelProto;
  readonly ops: readonly string[];
  readonly dataSets: readonly CaseData[];
}

function readTensorProto(file: string): ITensorProto {
  return onnx.TensorProto.decode(fs.readFileSync(file));
}

function readCase(name: string): Case {
  const dir = path.join(FIXTURES, name);
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx')));
  const ops = [...new Set((model.graph?.node ?? []).map((n) => n.opType ?? ''))].sort();
  const dataSets = fs
    .readdirSync(dir)
    .filter((d) => d.startsWith('test_data_set_'))
    .sort()
    .map((d) => {
      const files = fs.readdirSync(path.join(dir, d));
      const pick = (prefix: string): ITensorProto[] =>
        files
          .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
          .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
          .map((f) => readTensorProto(path.join(dir, d, f)));
      return { inputs: pick('input_'), outputs: pick('output_') };
    });
  return { name, dir, model, ops, dataSets };
}

const CASE_NAMES = fs
  .readdirSync(FIXTURES, { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name.startsWith('test_'))
  .map((e) => e.name)
  .sort();
const CASES: ReadonlyMap<string, Case> = new Map(CASE_NAMES.map((n) => [n, readCase(n)]));

/**
 * Inputs autopar needs as compile-time constants (shapes, axes, split sizes, Range
 * bounds, Dropout's training_mode). The conformance models take them as graph inputs;
 * autopar plans static shapes, so the harness binds them to the case's values, as a
 * user binds --dim.
 */
const CONSTANT_INPUTS: Readonly<Record<string, readonly number[]>> = {
  Reshape: [1],
  Expand: [1],
  Tile: [1],
  Slice: [1, 2, 3, 4],
  Squeeze: [1],
  Unsqueeze: [1],
  Split: [1],
  ReduceSum: [1],
  ReduceMean: [1],
  ReduceMax: [1],
  ReduceMin: [1],
  ReduceProd: [1],
  ConstantOfShape: [0],
  Range: [0, 1, 2],
  Dropout: [2],
};

/** Graph inputs whose values must be constants: the inputs feeding CONSTANT_INPUTS, transitively. */
function constantGraphInputs(model: ModelProto): Set<string> {
  const nodes = model.graph?.node ?? [];
  const producer = new Map<string, (typeof nodes)[number]>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  const need = new Set<string>();
  const stack: string[] = [];
  for (const n of nodes) {
    for (const i of CONSTANT_INPUTS[n.opType ?? ''] ?? []) {
      const v = n.input?.[i];
      if (v) stack.push(v);
    }
  }
  while (stack.length > 0) {
    const v = stack.pop() as string;
    if (need.has(v)) continue;
    need.add(v);
    for (const i of producer.get(v)?.input ?? []) if (i) stack.push(i);
  }
  const graphInputs = new Set((model.graph?.input ?? []).map((i) => i.name ?? ''));
  return new Set([...need].filter((v) => graphInputs.has(v)));
}

function graphInputNames(model: ModelProto): string[] {
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name ?? ''));
  return (model.graph?.input ?? []).map((i) => i.name ?? '').filter((n) => !inits.has(n));
}

function host(t: ITensorProto, where: string): HostTensor {
  const d = decodeTensor(t, where, FIXTURES);
  if (isExternal(d.data)) throw new Error(`${where}: external data in a test tensor`);
  return d.data;
}

const UINT16 = 4;
const BFLOAT16 = 16;

/**
 * ONNX 1.12's Cast test data stores bfloat16 tensors as uint16 bit patterns; read them
 * as the bfloat16 the model declares (same bits, so nothing is converted).
 */
function asDeclared(t: ITensorProto, elemType: number | undefined): ITensorProto {
  return elemType === BFLOAT16 && t.dataType === UINT16 ? { ...t, dataType: BFLOAT16 } : t;
}

/**
 * ONNX 1.12's castlike *_expanded cases feed their 'like' input with shape [1] while
 * the model declares [3,4]; the expanded graph never reads it. An input no node reads
 * takes the data's shape, so that only inputs that matter are shape-checked.
 */
function unusedInputsAsFed(model: ModelProto, fed: ReadonlyMap<string, ITensorProto>): void {
  const used = new Set((model.graph?.node ?? []).flatMap((n) => n.input ?? []));
  for (const vi of model.graph?.input ?? []) {
    const t = fed.get(vi.name ?? '');
    const shape = vi.type?.tensorType?.shape;
    if (used.has(vi.name ?? '') || !t || !shape) continue;
    shape.dim = (t.dims ?? []).map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d }));
  }
}

/** The model with the given graph inputs turned into Constant nodes holding `values`. */
function bindInputs(model: ModelProto, values: ReadonlyMap<string, ITensorProto>): Uint8Array {
  const m = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const g = m.graph;
  if (!g || values.size === 0) return onnx.ModelProto.encode(m).finish();
  g.input = (g.input ?? []).filter((i) => !values.has(i.name ?? ''));
  const consts = [...values].map(([name, t]) =>
    onnx.NodeProto.create({
      name: `bound_${name}`,
      opType: 'Constant',
      output: [name],
      attribute: [onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: onnx.TensorProto.create({ ...t, name }) })],
    }),
  );
  g.node = [...consts, ...(g.node ?? [])];
  return onnx.ModelProto.encode(m).finish();
}

interface OutputCheck {
  readonly name: string;
  readonly dtype: string;
  readonly maxRelError: number;
  readonly exact: boolean;
  readonly ok: boolean;
  readonly detail: string;
}

/** Compares one output: exact for integers and bool, max relative error otherwise. NaN must match NaN. */
function checkOutput(name: string, got: HostTensor, want: HostTensor, tolerance: number): OutputCheck {
  const shapeOk = got.shape.length === want.shape.length && got.shape.every((d, i) => d === want.shape[i]);
  if (!shapeOk) {
    return { name, dtype: want.dtype, maxRelError: Infinity, exact: false, ok: false, detail: `shape [${got.shape.join(',')}], expected [${want.shape.join(',')}]` };
  }
  if (got.dtype !== want.dtype) {
    return { name, dtype: want.dtype, maxRelError: Infinity, exact: false, ok: false, detail: `dtype ${got.dtype}, expected ${want.dtype}` };
  }
  if (!isFloat(want.dtype)) {
    const bad = want.data.findIndex((w, i) => got.data[i] !== w);
    return {
      name,
      dtype: want.dtype,
      maxRelError: bad < 0 ? 0 : Infinity,
      exact: true,
      ok: bad < 0,
      detail: bad < 0 ? 'exact' : `element ${bad} is ${got.data[bad]}, expected ${want.data[bad]}`,
    };
  }
  // Non-finite expectations (NaN, ±Inf) must be matched exactly; the rest compared by error.
  const g2 = Float64Array.from(got.data);
  const w2 = Float64Array.from(want.data);
  for (let i = 0; i < w2.length; i++) {
    const w = w2[i] ?? 0;
    if (Number.isFinite(w)) continue;
    const g = g2[i] ?? 0;
    if (!(Number.isNaN(w) ? Number.isNaN(g) : g === w)) {
      return { name, dtype: want.dtype, maxRelError: Infinity, exact: false, ok: false, detail: `element ${i} is ${g}, expected ${w}` };
    }
    g2[i] = 0;
    w2[i] = 0;
  }
  const e = compareTensors({ ...got, data: g2 }, { ...want, data: w2 });
  const ok = e.maxRelError <= tolerance;
  return { name, dtype: want.dtype, maxRelError: e.maxRelError, exact: false, ok, detail: `maxRelError ${e.maxRelError.toExponential(2)}` };
}

/** Imports and runs one case on each of its data sets; returns the per-output checks. */
async function runCase(c: Case): Promise<OutputCheck[]> {
  const checks: OutputCheck[] = [];
  const names = graphInputNames(c.model);
  const outputs = (c.model.graph?.output ?? []).map((o) => o.name ?? '');
  const toBind = constantGraphInputs(c.model);
  const declared = new Map((c.model.graph?.input ?? []).map((vi) => [vi.name ?? '', vi.type?.tensorType?.elemType ?? 0]));
  const declaredOut = (c.model.graph?.output ?? []).map((vi) => vi.type?.tensorType?.elemType ?? 0);
  for (const [k, ds] of c.dataSets.entries()) {
    const where = `${c.name}/test_data_set_${k}`;
    // Test tensors name their value; older ones are positional.
    const byName = new Map<string, ITensorProto>();
    ds.inputs.forEach((t, i) => {
      const name = t.name || names[i] || `input_${i}`;
      byName.set(name, asDeclared(t, declared.get(name)));
    });
    const bound = new Map([...byName].filter(([n]) => toBind.has(n)));
    // Bind symbolic dims to this data set's input shapes.
    const dims: Record<string, number> = {};
    for (const vi of c.model.graph?.input ?? []) {
      const t = byName.get(vi.name ?? '');
      (vi.type?.tensorType?.shape?.dim ?? []).forEach((d, i) => {
        const v = t?.dims?.[i];
        if (d.dimParam && v !== undefined) dims[d.dimParam] = Number(v);
      });
    }
    unusedInputsAsFed(c.model, byName);
    const { graph } = importBytes(bindInputs(c.model, bound), path.join(c.dir, 'model.onnx'), { dims });
    const feeds = new Map<string, HostTensor>();
    for (const inp of graph.inputs) {
      const t = byName.get(inp.name);
      if (!t) throw new Error(`${where}: no test value for input '${inp.name}'`);
      feeds.set(inp.name, host(t, `${where} input '${inp.name}'`));
    }
    const result = await execute(graph, feeds);
    expect(ds.outputs.length, `${where}: expected outputs`).toBe(outputs.length);
    outputs.forEach((o, i) => {
      const wantProto = ds.outputs[i];
      const got = result.outputs.get(o);
      if (!wantProto || !got) throw new Error(`${where}: output '${o}' missing`);
      const tolerance = TOLERANCE_OVERRIDES[c.name]?.tolerance ?? TOLERANCE;
      checks.push(checkOutput(o, got, host(asDeclared(wantProto, declaredOut[i]), `${where} output '${o}'`), tolerance));
    });
  }
  return checks;
}

function usesFloat64(c: Case): boolean {
  const DOUBLE = 11;
  const vis = [...(c.model.graph?.input ?? []), ...(c.model.graph?.output ?? [])];
  return vis.some((v) => v.type?.tensorType?.elemType === DOUBLE);
}

interface ManifestCase {
  readonly name: string;
  readonly restampedFrom?: number;
}

/** cases.json as vendor.mjs wrote it: which cases were re-stamped from an older opset. */
function readManifest(): Map<string, ManifestCase> {
  const json: unknown = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'cases.json'), 'utf8'));
  const list = typeof json === 'object' && json !== null && 'cases' in json && Array.isArray(json.cases) ? (json.cases as unknown[]) : [];
  const out = new Map<string, ManifestCase>();
  for (const c of list) {
    if (typeof c !== 'object' || c === null || !('name' in c) || typeof c.name !== 'string') continue;
    const from = 'restampedFrom' in c && typeof c.restampedFrom === 'number' ? c.restampedFrom : undefined;
    out.set(c.name, from === undefined ? { name: c.name } : { name: c.name, restampedFrom: from });
  }
  return out;
}

const MANIFEST = readManifest();

const RUNNABLE = CASE_NAMES.filter((n) => !(n in EXPECTED_UNSUPPORTED));
const REJECTED = CASE_NAMES.filter((n) => n in EXPECTED_UNSUPPORTED);
const results = new Map<string, string>();

describe('ONNX backend conformance', () => {
  it('has vendored cases, and the expected-unsupported list names only vendored cases', () => {
    expect(CASE_NAMES.length).toBeGreaterThan(0);
    for (const n of Object.keys(EXPECTED_UNSUPPORTED)) expect(CASES.has(n), `${n} is not vendored`).toBe(true);
    expect([...MANIFEST.keys()].sort()).toEqual(CASE_NAMES);
  });

  it.each(RUNNABLE)('%s', async (name) => {
    const c = CASES.get(name);
    if (!c) throw new Error(`no case ${name}`);
    const checks = await runCase(c);
    const worst = checks.reduce((m, x) => Math.max(m, x.maxRelError), 0);
    results.set(name, `${checks.every((x) => x.ok) ? 'pass' : 'FAIL'} (${checks.length} outputs, max rel error ${worst.toExponential(1)})`);
    for (const x of checks) expect(x.ok, `${name}: output '${x.name}' (${x.dtype}): ${x.detail}`).toBe(true);
  });

  it.each(REJECTED)('%s is rejected', async (name) => {
    const c = CASES.get(name);
    const r = EXPECTED_UNSUPPORTED[name];
    if (!c || !r) throw new Error(`no case ${name}`);
    const err: unknown = await runCase(c).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${name} should be rejected (${r.reason})`).toBeInstanceOf(AutoparError);
    if (err instanceof AutoparError) {
      expect(err.code).toBe(r.code);
      expect(err.message).toContain(r.says);
    }
    results.set(name, `rejected as expected: ${r.reason}`);
  });

  it('covers every supported op with a case that runs', () => {
    const covered = new Set(RUNNABLE.flatMap((n) => CASES.get(n)?.ops ?? []));
    const anyCase = new Set(CASE_NAMES.flatMap((n) => CASES.get(n)?.ops ?? []));
    const missing = supportedOps().filter((op) => !covered.has(op) && !(op in NO_CASE_ALLOWED));
    expect(missing, 'supported ops without a conformance case').toEqual([]);
    // The allow-list must not go stale: an allowed op that has a case is an error.
    for (const op of Object.keys(NO_CASE_ALLOWED)) {
      expect(supportedOps(), `allow-listed op ${op} is not supported`).toContain(op);
      expect(anyCase.has(op), `allow-listed op ${op} has a vendored case now`).toBe(false);
    }
  });
});

afterAll(() => {
  const lines = CASE_NAMES.map((n) => {
    const c = CASES.get(n);
    const from = MANIFEST.get(n)?.restampedFrom;
    const bound = c ? [...constantGraphInputs(c.model)] : [];
    const tags = [
      c?.ops.join('+') ?? '',
      from !== undefined ? `re-stamped from opset ${from}` : '',
      bound.length > 0 ? `bound as constants: ${bound.join(', ')}` : '',
      c && usesFloat64(c) ? 'float64 run as float32' : '',
      TOLERANCE_OVERRIDES[n] ? `tolerance ${TOLERANCE_OVERRIDES[n].tolerance}: ${TOLERANCE_OVERRIDES[n].reason}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    return `  ${n} [${tags}]: ${results.get(n) ?? 'not run'}`;
  });
  console.log(`ONNX conformance cases (${RUNNABLE.length} run, ${REJECTED.length} expected unsupported):\n${lines.join('\n')}`);
});
