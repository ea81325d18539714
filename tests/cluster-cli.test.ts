/** `autopar cluster FILE [--json]` through the built CLI: the CLI.md fields, and one-line errors. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, runCli } from './helpers/cli.js';

const TMP = mkdtempSync(path.join(tmpdir(), 'autopar-cluster-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** The built CLI, asynchronously so that the (slow-starting) processes of this file overlap. */
const autopar = (...args: string[]): Promise<CliResult> => runCli(args);

interface Axis {
  name: string;
  size: number;
  alpha: number;
  beta: number;
}
interface Summary {
  devices: number;
  hosts: number;
  deviceTypes: { name: string; count: number; peakFlops: Record<string, number>; memoryBytes: number; memoryBandwidth: number }[];
  meshes: { shape: number[]; axes: Axis[] }[];
}

describe.concurrent('autopar cluster', () => {
  it('--json prints devices, hosts, deviceTypes and meshes with alpha and beta per axis', async ({ expect }) => {
    const r = await autopar('cluster', 'examples/clusters/2x8-a100.yaml', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.devices).toBe(16);
    expect(s.hosts).toBe(2);
    expect(s.deviceTypes).toEqual([
      expect.objectContaining({ name: 'A100-80GB', count: 16, memoryBytes: 80 * 2 ** 30, memoryBandwidth: 2039e9, peakFlops: expect.objectContaining({ float16: 312e12, float32: 19.5e12 }) }),
    ]);
    const mesh = s.meshes.find((m) => m.shape.join() === '2,8');
    expect(mesh?.axes.map((a) => [a.name, a.size])).toEqual([
      ['x', 2],
      ['y', 8],
    ]);
    for (const a of mesh?.axes ?? []) {
      expect(a.alpha).toBeGreaterThan(0);
      expect(a.beta).toBeGreaterThan(0);
    }
    // crossing hosts is slower than NVLink
    expect(mesh?.axes[0]?.beta ?? 0).toBeGreaterThan(mesh?.axes[1]?.beta ?? Infinity);
    // the figures, in seconds and seconds per byte: x crosses the 200 Gb/s (25 GB/s) host
    // port, shared by its 8 concurrent pairs; y is NVLink 3 (300 GB/s, 5 us)
    expect(mesh?.axes[0]?.alpha).toBeCloseTo(10e-6, 12);
    expect(mesh?.axes[0]?.beta).toBeCloseTo(8 / 25e9, 20);
    expect(mesh?.axes[1]?.alpha).toBeCloseTo(5e-6, 12);
    expect(mesh?.axes[1]?.beta).toBeCloseTo(1 / 300e9, 20);
    expect(s.meshes.map((m) => m.shape.length)).toEqual(expect.arrayContaining([1, 2, 3]));
  });

  it('without --json prints a readable summary', async ({ expect }) => {
    const r = await autopar('cluster', 'examples/clusters/mixed.yaml');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('26 devices on 5 hosts');
    expect(r.stdout).toContain('RTX-4090');
    expect(r.stdout).toContain('logical meshes');
  });

  const bad: readonly [string, string, string][] = [
    ['missing-key.yaml', 'interHost', 'hosts: 2\ndevicesPerHost: 8\ndevice: A100-80GB\nintraHost: nvlink3\n'],
    ['negative.yaml', 'interHost.bandwidth', 'hosts: 2\ndevicesPerHost: 8\ndevice: A100-80GB\nintraHost: nvlink3\ninterHost: {bandwidth: -1Gb/s, latency: 1us}\n'],
    ['zero.yaml', 'devicesPerHost', 'hosts: 1\ndevicesPerHost: 0\ndevice: A100-80GB\nintraHost: nvlink3\n'],
    ['preset.yaml', 'device', 'hosts: 1\ndevicesPerHost: 8\ndevice: TPU-v9\nintraHost: nvlink3\n'],
    ['groups.yaml', 'hosts', 'hosts: 3\ninterHost: ib-hdr\ngroups:\n  - {hosts: 1, devicesPerHost: 8, device: A100-80GB, intraHost: nvlink3}\n'],
    ['syntax.yaml', 'YAML syntax error', 'hosts: 2\ndevicesPerHost: [8\n'],
  ];
  it.each(bad)('%s: non-zero exit, one line on stderr naming %s, nothing on stdout', async (file, key, text) => {
    const p = path.join(TMP, file);
    writeFileSync(p, text);
    // --json changes nothing on failure: checked on one file to keep the spawns few
    for (const args of file === 'negative.yaml' ? [['cluster', p], ['cluster', p, '--json']] : [['cluster', p]]) {
      const r = await autopar(...args);
      expect(r.status).not.toBe(0);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(p);
      expect(lines[0]).toContain(key.includes(' ') ? key : `: ${key}: `);
    }
  });
});
