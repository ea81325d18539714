/**
 * Chooses the tfjs backend once per process: a GPU if the user installed
 * tfjs-node-gpu, then tfjs-node, then WebAssembly (the default on machines where the
 * native bindings cannot be installed), then the pure-JS CPU backend.
 * The native packages are optional peers, never hard dependencies.
 */
import * as tf from '@tensorflow/tfjs-core';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  readonly name: BackendName;
  /** The tfjs registry name the backend runs under. */
  readonly tfjsBackend: string;
  /** Why the earlier candidates were passed over, for `--debug` and reports. */
  readonly skipped: readonly string[];
}

let chosen: Promise<BackendInfo> | undefined;

/** The order tried when no backend is forced. */
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Loads a candidate package (dynamic import); tests pass a stand-in. */
export type PackageLoader = (specifier: string) => Promise<unknown>;

const importPackage: PackageLoader = (specifier) => import(specifier);

/** Undefined when the package loaded; else why not: absent, or present but failing to load (a native binding). */
async function tryImport(specifier: string, load: PackageLoader): Promise<string | undefined> {
  try {
    await load(specifier);
    return undefined;
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? e.code : undefined;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return 'not installed';
    return `failed to load (${e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e)})`;
  }
}

/**
 * Picks the first backend of BACKEND_ORDER (or only `preferred`) that loads and
 * initialises, and says why each earlier one was passed over.
 */
export async function selectBackend(preferred?: BackendName, load: PackageLoader = importPackage): Promise<BackendInfo> {
  const skipped: string[] = [];
  const order: readonly BackendName[] = preferred ? [preferred] : BACKEND_ORDER;
  for (const name of order) {
    switch (name) {
      case 'tensorflow-gpu':
      case 'tensorflow': {
        const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
        const err = await tryImport(pkg, load);
        if (err !== undefined) {
          skipped.push(`${pkg}: ${err}`);
          continue;
        }
        if (await tf.setBackend('tensorflow')) {
          await tf.ready();
          return { name, tfjsBackend: 'tensorflow', skipped };
        }
        skipped.push(`${pkg}: backend failed to initialise`);
        continue;
      }
      case 'wasm':
      case 'cpu': {
        // Plain tfjs backends: the package registers a backend of the same name.
        const pkg = `@tensorflow/tfjs-backend-${name}`;
        const err = await tryImport(pkg, load);
        if (err === undefined && (await tf.setBackend(name))) {
          await tf.ready();
          return { name, tfjsBackend: name, skipped };
        }
        skipped.push(`${pkg}: ${err ?? 'failed to initialise'}`);
        continue;
      }
    }
  }
  throw new Error(`no tfjs backend could be initialised: ${skipped.join('; ')}`);
}

/**
 * Initialise (once) and return the backend. `AUTOPAR_BACKEND=wasm|cpu|tensorflow|tensorflow-gpu`
 * forces one, for tests and for comparing backends.
 */
export function initBackend(): Promise<BackendInfo> {
  if (!chosen) {
    const env = process.env['AUTOPAR_BACKEND'];
    const forced =
      env === 'wasm' || env === 'cpu' || env === 'tensorflow' || env === 'tensorflow-gpu' ? env : undefined;
    chosen = selectBackend(forced);
  }
  return chosen;
}

export { tf };
