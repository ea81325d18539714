/**
 * Reference folders (models/README.md): manifest.json plus raw little-endian arrays.
 * Read by `eval`/`run`, written by `eval --save` so other tools can compare independently.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AutoparError } from '../errors.js';
import type { DType } from '../ir/dtype.js';
import { type HostTensor, hostFromBytes, hostToBytes } from '../ir/host-tensor.js';

const DTYPES = ['float32', 'float64', 'int64', 'int32', 'bool', 'uint8', 'int8'] as const;

const TensorEntry = z.object({
  dtype: z.enum(DTYPES),
  shape: z.array(z.number().int().nonnegative()),
  file: z.string().min(1),
});

const GradientEntry = TensorEntry.extend({
  param: z.string().optional(),
  layout: z.string().optional(),
});

const Manifest = z.object({
  model: z.string().optional(),
  inputs: z.record(z.string(), TensorEntry),
  outputs: z.record(z.string(), TensorEntry),
  loss: z
    .object({
      kind: z.enum(['mse', 'cross_entropy']),
      reduction: z.literal('mean'),
      value: z.number(),
      target: TensorEntry,
    })
    .optional(),
  gradients: z.record(z.string(), GradientEntry).optional(),
});

export type ManifestT = z.infer<typeof Manifest>;
export type TensorEntryT = z.infer<typeof TensorEntry>;

export interface ReferenceFolder {
  readonly dir: string;
  readonly manifest: ManifestT;
  read(entry: TensorEntryT): HostTensor;
}

export function readReference(dir: string): ReferenceFolder {
  const file = path.join(dir, 'manifest.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new AutoparError('E_REFERENCE', `${dir}: not a reference folder (no readable manifest.json)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new AutoparError('E_REFERENCE', `${file}: invalid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AutoparError('E_REFERENCE', `${file}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid manifest'}`);
  }
  return {
    dir,
    manifest: parsed.data,
    read: (entry) => {
      const p = path.join(dir, entry.file);
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(p);
      } catch {
        throw new AutoparError('E_REFERENCE', `${p}: missing file named in manifest.json`);
      }
      try {
        return hostFromBytes(entry.dtype as DType, entry.shape, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      } catch (e) {
        throw new AutoparError('E_REFERENCE', `${p}: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}

export interface ReferenceToWrite {
  readonly model: string;
  readonly inputs: ReadonlyMap<string, HostTensor>;
  readonly outputs: ReadonlyMap<string, HostTensor>;
  readonly loss?: { readonly kind: 'mse' | 'cross_entropy'; readonly value: number; readonly target: HostTensor };
  readonly gradients?: ReadonlyMap<string, HostTensor>;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Writes a complete folder under a temporary name, then renames it into place. */
export function writeReference(dir: string, ref: ReferenceToWrite): void {
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(dir)}.tmp-`));
  try {
    const entry = (t: HostTensor, file: string): TensorEntryT => {
      fs.writeFileSync(path.join(tmp, file), hostToBytes(t));
      return { dtype: t.dtype as TensorEntryT['dtype'], shape: [...t.shape], file };
    };
    const manifest: ManifestT = {
      model: ref.model,
      inputs: Object.fromEntries([...ref.inputs].map(([n, t]) => [n, entry(t, `input.${safeName(n)}.bin`)])),
      outputs: Object.fromEntries([...ref.outputs].map(([n, t], i) => [n, entry(t, i === 0 ? 'output.bin' : `output.${safeName(n)}.bin`)])),
    };
    if (ref.loss) manifest.loss = { kind: ref.loss.kind, reduction: 'mean', value: ref.loss.value, target: entry(ref.loss.target, 'target.bin') };
    if (ref.gradients) {
      manifest.gradients = Object.fromEntries([...ref.gradients].map(([n, t]) => [n, { ...entry(t, `grad.${safeName(n)}.bin`), param: n, layout: 'same' }]));
    }
    fs.writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
