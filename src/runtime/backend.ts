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

async function tryImport(specifier: string): Promise<string | undefined> {
  try {
    await import(specifier);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message.split('\n')[0] : String(e);
  }
}

async function select(preferred?: BackendName): Promise<BackendInfo> {
  const skipped: string[] = [];
  const order: BackendName[] = preferred ? [preferred] : ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
  for (const name of order) {
    switch (name) {
      case 'tensorflow-gpu':
      case 'tensorflow': {
        const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
        const err = await tryImport(pkg);
        if (err !== undefined) {
          skipped.push(`${pkg}: not installed`);
          continue;
        }
        if (await tf.setBackend('tensorflow')) {
          await tf.ready();
          return { name, tfjsBackend: 'tensorflow', skipped };
        }
        skipped.push(`${pkg}: backend failed to initialise`);
        continue;
      }
      case 'wasm': {
        const err = await tryImport('@tensorflow/tfjs-backend-wasm');
        if (err === undefined && (await tf.setBackend('wasm'))) {
          await tf.ready();
          return { name, tfjsBackend: 'wasm', skipped };
        }
        skipped.push(`@tensorflow/tfjs-backend-wasm: ${err ?? 'failed to initialise'}`);
        continue;
      }
      case 'cpu': {
        await import('@tensorflow/tfjs-backend-cpu');
        await tf.setBackend('cpu');
        await tf.ready();
        return { name, tfjsBackend: 'cpu', skipped };
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
    chosen = select(forced);
  }
  return chosen;
}

export { tf };
