/**
 * The README's quick start, as a user runs it: in an empty folder, the command the
 * README gives (`npm run demo`, i.e. `node dist/src/cli/main.js compile` with no
 * argument: the bundled example on its cluster), then `autopar run` on what it wrote.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, runNode } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autopar-quickstart-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The quick start's command: the first line of the first sh block under "## Quick start". */
function quickStartCommand(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('\n## Quick start')[1] ?? '';
  const block = /```sh\n([^\n]*)\n/.exec(section);
  if (!block?.[1]) throw new Error('README.md: no sh block under "## Quick start"');
  return block[1].replace(/\s+#.*$/, '').trim();
}

describe('README quick start, end to end', () => {
  it('`npm run demo` is `node dist/src/cli/main.js compile` with no argument', () => {
    expect(quickStartCommand()).toBe('npm run demo');
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.demo).toBe('node dist/src/cli/main.js compile');
  });

  it('in an empty folder it writes plan.json, the device programs and report.html, and `autopar run` trains them', async () => {
    // What `npm run demo` runs, started in the user's folder (npm would add only its own noise).
    const compiled = await runNode([CLI, 'compile'], { cwd: tmp, timeoutMs: 150_000 });
    expect(compiled.status, compiled.stderr).toBe(0);
    expect(compiled.stderr).toContain('no model given: planning the bundled example');
    const dir = path.join(tmp, 'gpt2_tiny.autopar');
    expect(compiled.stdout).toContain(`plan        ${path.join(dir, 'plan.json')}`);
    const plan = JSON.parse(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8')) as { model: string; cluster: { devices: number }; stages: unknown[]; source?: { model: string } };
    expect(plan.model).toBe('gpt2_tiny.onnx');
    expect(plan.cluster.devices).toBe(4);
    expect(plan.stages).toHaveLength(1);
    expect(plan.source?.model).toBe(path.join(ROOT, 'examples', 'models', 'gpt2_tiny.onnx'));
    const programs = fs.readdirSync(path.join(dir, 'devices')).sort();
    expect(programs).toEqual(['device-0.json', 'device-0.mjs', 'device-1.json', 'device-1.mjs', 'device-2.json', 'device-2.mjs', 'device-3.json', 'device-3.mjs']);
    const report = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(report).toContain('<title>autopar report: gpt2_tiny.onnx</title>');

    // The README's next step, from the same folder, with the relative path a user would type.
    const ran = await runNode([CLI, 'run', 'gpt2_tiny.autopar', '--steps', '2', '--json'], { cwd: tmp, timeoutMs: 150_000 });
    expect(ran.status, ran.stderr).toBe(0);
    const r = JSON.parse(ran.stdout) as { devices: number; steps: number; loss: number[]; collectives: Record<string, { count: number; bytes: number }>; plannedCollectives: Record<string, { count: number; bytes: number }> };
    expect(r.devices).toBe(4);
    expect(r.steps).toBe(2);
    expect(r.loss).toHaveLength(2);
    for (const l of r.loss) expect(Number.isFinite(l) && l > 0).toBe(true);
    expect(Object.keys(r.plannedCollectives).length).toBeGreaterThan(0);
    expect(r.collectives).toEqual(r.plannedCollectives);
  }, 300_000);
});
