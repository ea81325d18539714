/**
 * Backend choice of the single-device executor: tfjs-node-gpu if installed, else
 * tfjs-node, else WebAssembly, else the pure-JS CPU backend; the choice is reported
 * (with why each earlier candidate was passed over) and `eval` prints it.
 * The native packages are optional peers that are absent here: a stand-in loader plays
 * them, registering a CPU backend under the name tfjs-node gives its backend.
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BACKEND_ORDER, type PackageLoader, selectBackend, tf } from '../src/runtime/backend.js';
import { model, runCli, runJson } from './helpers/cli.js';

const GPU = '@tensorflow/tfjs-node-gpu';
const NODE = '@tensorflow/tfjs-node';
const WASM = '@tensorflow/tfjs-backend-wasm';
const CPU = '@tensorflow/tfjs-backend-cpu';

function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}' imported from backend.js`), { code: 'ERR_MODULE_NOT_FOUND' });
}

/**
 * A loader where only `present` packages exist; a present native package registers a
 * backend named 'tensorflow' (as tfjs-node does), `broken` ones throw as a failing
 * native binding would. Records what was asked, in order.
 */
function loader(present: readonly string[], broken: readonly string[] = []): { load: PackageLoader; asked: string[] } {
  const asked: string[] = [];
  const load: PackageLoader = async (specifier) => {
    asked.push(specifier);
    if (broken.includes(specifier)) throw new Error(`${specifier}: libtensorflow.so: cannot open shared object file\n    at dlopen`);
    if (!present.includes(specifier)) throw notFound(specifier);
    if (specifier === GPU || specifier === NODE) {
      tf.registerBackend('tensorflow', () => new MathBackendCPU());
      return {};
    }
    return import(specifier);
  };
  return { load, asked };
}

afterEach(() => {
  if (tf.findBackend('tensorflow')) tf.removeBackend('tensorflow');
});

describe('backend selection', () => {
  it('tries tfjs-node-gpu, tfjs-node, wasm, cpu in that order', () => {
    expect(BACKEND_ORDER).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  });

  it('takes tfjs-node-gpu when it is installed, before everything else', async () => {
    const { load, asked } = loader([GPU, NODE, WASM, CPU]);
    const b = await selectBackend(undefined, load);
    expect(b).toEqual({ name: 'tensorflow-gpu', tfjsBackend: 'tensorflow', skipped: [] });
    expect(asked).toEqual([GPU]);
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it('takes tfjs-node when the GPU package is absent', async () => {
    const { load, asked } = loader([NODE, WASM, CPU]);
    const b = await selectBackend(undefined, load);
    expect(b).toEqual({ name: 'tensorflow', tfjsBackend: 'tensorflow', skipped: [`${GPU}: not installed`] });
    expect(asked).toEqual([GPU, NODE]);
  });

  it('takes WebAssembly when neither native package is installed (the default here)', async () => {
    const { load, asked } = loader([WASM, CPU]);
    const b = await selectBackend(undefined, load);
    expect(b).toEqual({ name: 'wasm', tfjsBackend: 'wasm', skipped: [`${GPU}: not installed`, `${NODE}: not installed`] });
    expect(asked).toEqual([GPU, NODE, WASM]);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('falls back to the pure-JS CPU backend when WebAssembly is unavailable too', async () => {
    const { load, asked } = loader([CPU]);
    const b = await selectBackend(undefined, load);
    expect(b.name).toBe('cpu');
    expect(b.skipped).toEqual([`${GPU}: not installed`, `${NODE}: not installed`, `${WASM}: not installed`]);
    expect(asked).toEqual([GPU, NODE, WASM, CPU]);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('says when a native package is installed but fails to load, instead of "not installed"', async () => {
    const { load } = loader([NODE, WASM, CPU], [GPU]);
    const b = await selectBackend(undefined, load);
    expect(b.name).toBe('tensorflow');
    expect(b.skipped).toEqual([`${GPU}: failed to load (${GPU}: libtensorflow.so: cannot open shared object file)`]);
  });

  it('a forced backend (AUTOPAR_BACKEND) is the only one tried', async () => {
    const { load, asked } = loader([GPU, NODE, WASM, CPU]);
    const b = await selectBackend('cpu', load);
    expect(b).toEqual({ name: 'cpu', tfjsBackend: 'cpu', skipped: [] });
    expect(asked).toEqual([CPU]);
  });

  it('no backend at all is an error listing why each was skipped', async () => {
    const { load } = loader([]);
    await expect(selectBackend(undefined, load)).rejects.toThrow(`no tfjs backend could be initialised: ${GPU}: not installed; ${NODE}: not installed; ${WASM}: not installed; ${CPU}: not installed`);
  });
});

describe('the chosen backend is reported', () => {
  it('autopar eval names it, in --json and in the human output', async () => {
    const args = ['eval', model('mlp.onnx'), '--reference', model('mlp.reference')];
    const j = z.object({ backend: z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']) }).parse(await runJson(args));
    const human = await runCli(args);
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^model +mlp\\.onnx on ${j.backend} \\(`));
    // AUTOPAR_BACKEND forces one, and the report follows it.
    const before = process.env['AUTOPAR_BACKEND'];
    process.env['AUTOPAR_BACKEND'] = 'cpu'; // the child inherits this process's environment
    const forced = await runCli([...args, '--json']).finally(() => {
      if (before === undefined) delete process.env['AUTOPAR_BACKEND'];
      else process.env['AUTOPAR_BACKEND'] = before;
    });
    expect(forced.status, forced.stderr).toBe(0);
    expect(z.object({ backend: z.string() }).parse(JSON.parse(forced.stdout)).backend).toBe('cpu');
  });
});
