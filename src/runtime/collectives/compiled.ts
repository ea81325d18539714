/** Where the compiled JavaScript of a runtime script is, also when the caller runs from TypeScript sources. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RunError } from './errors.js';

/** Levels from this directory (src/runtime/collectives) up to the package root. */
const UP = '../../..';

/**
 * `file` beside the module at `moduleUrl`, compiled. Workers and mpirun start plain node on
 * JavaScript; when the caller itself runs from .ts (vitest), that file is taken from dist/,
 * which `npm run build` produces.
 */
export function compiledSibling(moduleUrl: string, file: string): string {
  const here = fileURLToPath(moduleUrl);
  const dir = path.dirname(here);
  if (here.endsWith('.js')) return path.join(dir, file);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), UP);
  const built = path.join(root, 'dist', path.relative(root, dir), file);
  if (!fs.existsSync(built)) throw new RunError(`${built} is missing: build first (npm run build)`);
  return built;
}

/** A file: URL for a module given as path or URL, checking that a path exists. */
export function moduleUrl(module: string): string {
  if (module.startsWith('file:')) return module;
  const abs = path.resolve(module);
  if (!fs.existsSync(abs)) throw new RunError(`worker module ${abs} does not exist`);
  return pathToFileURL(abs).href;
}
