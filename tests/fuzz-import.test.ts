/**
 * Import fuzzing: seeded corruptions of real models (flipped bytes, big varints,
 * truncation, deleted, duplicated and spliced ranges) must each import or fail with an
 * AutoparError that names the file: never another exception, never an internal error,
 * never a hang. Cases run in a worker thread (the built code in dist/) so that a case
 * that hangs can be stopped and reported with its seed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { model, ROOT } from './helpers/cli.js';
import type { FuzzJob, FuzzMessage } from './helpers/fuzz-worker.js';

const WORKER = path.join(ROOT, 'dist', 'tests', 'helpers', 'fuzz-worker.js');
/** A single import of these small models takes well under 100 ms. */
const PER_CASE_MS = 5000;

interface CaseReport {
  readonly seed: number;
  readonly steps: readonly string[];
  readonly problem: string;
}

interface FuzzSummary {
  cases: number;
  ok: number;
  readonly codes: Record<string, number>;
  readonly failures: CaseReport[];
}

/** The fuzz worker runs built code: make sure the build is not older than the sources. */
function assertBuildFresh(): void {
  const stale: string[] = [];
  for (const dir of ['src/onnx', 'src/ops', 'src/ir', 'passes', 'tests/helpers']) {
    for (const f of fs.readdirSync(path.join(ROOT, dir))) {
      if (!f.endsWith('.ts') || f.endsWith('.d.ts')) continue;
      const js = path.join(ROOT, 'dist', dir, f.replace(/\.ts$/, '.js'));
      const src = path.join(ROOT, dir, f);
      if (!fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(src).mtimeMs) stale.push(`${dir}/${f}`);
    }
  }
  if (stale.length) throw new Error(`dist/ is older than ${stale.slice(0, 5).join(', ')}: run 'npm test' (tsc before vitest)`);
}

function fuzz(job: FuzzJob): Promise<FuzzSummary> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: job, resourceLimits: { maxOldGenerationSizeMb: 2048 } });
    const summary: FuzzSummary = { cases: 0, ok: 0, codes: {}, failures: [] };
    let current: { seed: number; steps: readonly string[] } | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      void worker.terminate();
      if (err) reject(err);
      else resolve(summary);
    };
    worker.on('message', (m: FuzzMessage) => {
      if (m.type === 'start') {
        current = { seed: m.seed, steps: m.steps };
        timer = setTimeout(() => {
          finish(new Error(`case seed ${m.seed} (${m.steps.join('; ')}) of ${job.source} did not finish within ${PER_CASE_MS} ms`));
        }, PER_CASE_MS);
      } else if (m.type === 'done') {
        if (timer) clearTimeout(timer);
        summary.cases++;
        const steps = current?.steps ?? [];
        const o = m.outcome;
        if (o.kind === 'ok') summary.ok++;
        else if (o.kind === 'autopar') {
          summary.codes[o.code] = (summary.codes[o.code] ?? 0) + 1;
          if (o.code === 'E_INTERNAL') summary.failures.push({ seed: m.seed, steps, problem: `internal error: ${o.message}` });
          else if (!o.message.includes(job.source)) summary.failures.push({ seed: m.seed, steps, problem: `message does not name the file: ${o.message}` });
          else if (o.message.includes('\n')) summary.failures.push({ seed: m.seed, steps, problem: `multi-line message: ${o.message}` });
        } else if (o.kind === 'invalid') {
          summary.ok++;
          summary.failures.push({ seed: m.seed, steps, problem: `imported, but ${o.message}` });
        } else {
          summary.failures.push({ seed: m.seed, steps, problem: `${o.name}: ${o.message}\n${o.stack.split('\n').slice(1, 4).join('\n')}` });
        }
        if (m.ms > PER_CASE_MS / 2) summary.failures.push({ seed: m.seed, steps, problem: `slow: ${m.ms.toFixed(0)} ms` });
      } else {
        finish();
      }
    });
    worker.on('error', (e) => finish(new Error(`fuzz worker crashed during seed ${current?.seed ?? '?'} (${current?.steps.join('; ') ?? ''}): ${e.message}`)));
    worker.on('exit', (code) => finish(code === 0 || settled ? undefined : new Error(`fuzz worker exited with ${code} during seed ${current?.seed ?? '?'}`)));
  });
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

describe('import fuzzing: corrupted models import or fail with a clean AutoparError', () => {
  const JOBS: readonly (FuzzJob & { label: string })[] = [
    { label: 'gpt2_tiny_opset17', kind: 'corrupt', file: model('gpt2_tiny_opset17.onnx'), source: 'fuzzed-gpt2_tiny_opset17.onnx', seeds: range(1, 160), dims: { batch: 2 } },
    { label: 'resnet18', kind: 'corrupt', file: model('resnet18.onnx'), source: 'fuzzed-resnet18.onnx', seeds: range(100_001, 300), dims: {} },
    { label: 'random single-op models', kind: 'ops', source: 'fuzzed-op.onnx', seeds: range(200_001, 3000), dims: {} },
  ];
  for (const job of JOBS) {
    it(`${job.label}: ${job.seeds.length} cases`, async () => {
      assertBuildFresh();
      const s = await fuzz(job);
      expect(s.cases).toBe(job.seeds.length);
      if (process.env['FUZZ_VERBOSE']) console.log(job.label, JSON.stringify({ cases: s.cases, ok: s.ok, codes: s.codes }));
      const report = s.failures.map((f) => `seed ${f.seed} [${f.steps.join('; ')}]: ${f.problem}`).join('\n');
      expect(s.failures, report).toEqual([]);
      // The cases must reach past the protobuf decoder (and some must import), or the test proves little.
      expect(s.ok).toBeGreaterThan(0);
      const deeper = Object.entries(s.codes).filter(([c]) => c !== 'E_PARSE').reduce((n, [, k]) => n + k, 0);
      expect(deeper + s.ok, JSON.stringify(s)).toBeGreaterThan(job.seeds.length / 5);
    });
  }
});
