/** `autopar profile` through the built CLI: writes a loadable profile, prints JSON on request. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { loadProfile } from '../cost-models/profile.js';
import { runNode } from './helpers/cli.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const TMP = mkdtempSync(path.join(tmpdir(), 'autopar-profile-cli-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

it('autopar profile --quick --out FILE --json writes the file and prints it', async () => {
  const out = path.join(TMP, 'machine.json');
  const r = await runNode([MAIN, 'profile', '--quick', '--out', out, '--json'], { timeoutMs: 120_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const printed = JSON.parse(r.stdout) as { file: string; summary: { matmulFlops: number } };
  expect(printed.file).toBe(out);
  const saved = loadProfile(out);
  expect(saved.summary.matmulFlops).toBe(printed.summary.matmulFlops);
  expect(saved.summary.matmulFlops).toBeGreaterThan(0);
  expect(readdirSync(TMP)).toEqual(['machine.json']);
});

it('an unwritable --out is a one-line error', async () => {
  const r = await runNode([MAIN, 'profile', '--quick', '--out', path.join(TMP, 'no', 'such', 'dir.json')], { timeoutMs: 120_000 });
  expect(r.status).not.toBe(0);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/cannot write profile to .*dir\.json/);
});
