/**
 * Calibration on this machine: a profile measured on the active tfjs backend (wasm here)
 * makes a cost model that predicts a freshly measured matmul, at a size it did not
 * measure, within 25%. Also the profile file: atomic write, load, and errors.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibratedCostModel, deviceTypeFromProfile, loadCostModel } from '../cost-models/calibrated.js';
import { loadProfile, saveProfile, type Profile } from '../cost-models/profile.js';
import { measureMatmul, measureProfile } from '../cost-models/profiler.js';
import { AutoparError } from '../src/errors.js';

const TMP = mkdtempSync(path.join(tmpdir(), 'autopar-profile-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

let profile: Profile;
beforeAll(async () => {
  profile = await measureProfile({ quick: true });
});

describe('calibrated cost model', () => {
  it('predicts a fresh 384x384x384 float32 matmul within 25%', async () => {
    const device = deviceTypeFromProfile(profile);
    expect(profile.samples.matmul.map((s) => s.label)).not.toContain('384x384x384');
    // The machine is shared: each measurement is a median of interleaved batches after
    // warm-up, on this process's CPU clock (profiler.ts); a burst of load from another
    // process can still skew one of the two, so up to three tries re-measure both.
    let error = Infinity;
    for (let attempt = 0; attempt < 3 && error > 0.25; attempt++) {
      const current = attempt === 0 ? profile : await measureProfile({ quick: true });
      const fresh = measureMatmul(384, 384, 384);
      const predicted = calibratedCostModel(current).compute({ flops: fresh.flops, bytes: fresh.bytes, dtype: 'float32', kind: 'matmul' }, device).seconds;
      error = Math.abs(predicted - fresh.seconds) / fresh.seconds;
    }
    expect(error).toBeLessThan(0.25);
  });

  it('orders ops as measured: a bigger matmul takes longer, an add is memory-bound', () => {
    const model = calibratedCostModel(profile);
    const device = deviceTypeFromProfile(profile);
    const mm = (n: number) => model.compute({ flops: 2 * n ** 3, bytes: 12 * n * n, dtype: 'float32', kind: 'matmul' }, device).seconds;
    expect(mm(1024)).toBeGreaterThan(mm(512));
    const add = model.compute({ flops: 1 << 20, bytes: 12 * (1 << 20), dtype: 'float32', kind: 'elementwise' }, device);
    expect(add.bound).toBe('memory');
    expect(model.name).toContain(profile.backend);
  });

  it('keeps the analytical memory model', () => {
    const model = calibratedCostModel(profile);
    expect(model.modelStates({ parameters: 1e9, optimizer: 'adam', precision: 'mixed' }).total).toBe(16e9);
  });
});

describe('profile files', () => {
  it('are written atomically and read back identical', () => {
    const file = path.join(TMP, 'p.json');
    saveProfile(profile, file);
    expect(readdirSync(TMP).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(loadProfile(file)).toEqual(profile);
    expect(loadCostModel(file).name).toMatch(/^calibrated/);
    expect(loadCostModel(undefined).name).toBe('analytical');
  });

  it('a broken profile names the file and the key', () => {
    const file = path.join(TMP, 'broken.json');
    writeFileSync(file, JSON.stringify({ ...profile, summary: { ...profile.summary, matmulFlops: -1 } }));
    expect(() => loadProfile(file)).toThrow(AutoparError);
    expect(() => loadProfile(file)).toThrow(/broken\.json: summary\.matmulFlops: /);
    writeFileSync(file, '{not json');
    expect(() => loadProfile(file)).toThrow(/broken\.json: not a JSON profile/);
    expect(() => loadProfile(path.join(TMP, 'none.json'))).toThrow(/none\.json: cannot read profile \(no such file\)/);
    expect(existsSync(path.join(TMP, 'none.json'))).toBe(false);
  });
});
