/** Runs the built CLI (`dist/src/cli/main.js`, built by `npm test` before vitest) as a user would. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MODELS = path.join(ROOT, 'tests', 'fixtures', 'models');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

export function model(name: string): string {
  return path.join(MODELS, name);
}

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node ARGS` in a child process without blocking this one: vitest's worker must keep
 * answering its RPC (a synchronous wait over 60 s fails the run with "Timeout calling
 * onTaskUpdate" even when every test passes).
 */
export function runNode(args: readonly string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return runProcess(process.execPath, args, opts);
}

/** Any program (e.g. mpirun), the same way. */
export function runProcess(command: string, args: readonly string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 90_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Runs the built CLI as a user would (several may run at once: the CLI is slow to start). */
export function runCli(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  if (!fs.existsSync(CLI)) return Promise.reject(new Error(`${CLI} is missing: build first (npm test runs tsc before vitest)`));
  return runNode([CLI, ...args], opts);
}

/** Runs a command that must succeed with `--json` and parses its stdout. */
export async function runJson(args: readonly string[]): Promise<unknown> {
  const r = await runCli([...args, '--json']);
  if (r.status !== 0) throw new Error(`autopar ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}
