/** Shared CLI plumbing: JSON vs human output, and one-line errors. */
import { AutoparError } from '../errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Runs a command body; turns any failure into one line on stderr and exit code 1. */
export async function runCommand(debug: boolean, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (debug && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    const msg =
      e instanceof AutoparError
        ? `autopar: ${e.message}`
        : `autopar: internal error: ${e instanceof Error ? e.message : String(e)} (rerun with --debug for a stack trace)`;
    process.stderr.write(msg.replace(/\n/g, ' ') + '\n');
    process.exitCode = e instanceof AutoparError && e.code === 'E_USAGE' ? 2 : 1;
  }
}

/** Parses repeated `--dim NAME=VALUE` options. */
export function parseDims(list: readonly string[] | undefined): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const item of list ?? []) {
    const m = /^([A-Za-z_][\w.:-]*)=(\d+)$/.exec(item);
    if (!m || !m[1] || !m[2]) {
      throw new AutoparError('E_USAGE', `--dim expects NAME=VALUE with a positive integer value, got '${item}' (e.g. --dim batch=8)`);
    }
    const v = Number(m[2]);
    if (v <= 0) throw new AutoparError('E_USAGE', `--dim ${m[1]} must be positive, got ${v}`);
    dims[m[1]] = v;
  }
  return dims;
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
