/** cluster.yaml: units, presets, examples, and one clear error per kind of mistake. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AutoparError } from '../src/errors.js';
import { loadCluster, parseCluster } from '../src/cluster/load.js';
import { DEVICE_PRESETS } from '../src/cluster/presets.js';
import { parseQuantity, type QuantityKind } from '../src/cluster/units.js';

const EXAMPLES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'clusters');

const HEAD = 'devicesPerHost: 8\ndevice: A100-80GB\nintraHost: {bandwidth: 300GB/s, latency: 5us}\n';

describe('units', () => {
  const cases: readonly [QuantityKind, number | string, number][] = [
    ['bandwidth', '200Gb/s', 25e9],
    ['bandwidth', '25 Gb/s', 3.125e9],
    ['bandwidth', '300GB/s', 300e9],
    ['bandwidth', '2TB/s', 2e12],
    ['bandwidth', '1GiB/s', 2 ** 30],
    ['bandwidth', 12.5e9, 12.5e9],
    ['bytes', '80GB', 80e9],
    ['bytes', '80GiB', 80 * 2 ** 30],
    ['bytes', '512MiB', 512 * 2 ** 20],
    ['time', '5us', 5e-6],
    ['time', '5µs', 5e-6],
    ['time', '1.5ms', 1.5e-3],
    ['time', '2e-6', 2e-6],
    ['flops', '312TFLOP/s', 312e12],
    ['flops', '19.5 TFLOPS', 19.5e12],
  ];
  it.each(cases)('%s %s', (kind, input, want) => {
    const r = parseQuantity(kind, input);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value).toBeCloseTo(want, 6);
  });

  it('reads a number with a unit as the double nearest its value (no second rounding)', () => {
    const exact: readonly [QuantityKind, string, number][] = [
      ['time', '10us', 1e-5], // 10 * 1e-6 would be one ulp below
      ['time', '25us', 25e-6],
      ['time', '3ns', 3e-9],
      ['time', '1.5ms', 1.5e-3],
      ['bandwidth', '2.039TB/s', 2039e9], // 2.039 * 1e12 would not be an integer
      ['bandwidth', '200Gb/s', 25e9],
      ['bandwidth', '15.75GB/s', 15.75e9],
      ['bytes', '5e3GB', 5e12],
      ['bytes', '1.5GiB', 1.5 * 2 ** 30],
      ['flops', '494.7TFLOP/s', 494.7e12],
    ];
    for (const [kind, input, want] of exact) expect(parseQuantity(kind, input), input).toEqual({ ok: true, value: want });
    expect(parseQuantity('bytes', '1e400GB').ok).toBe(false);
  });

  it('rejects bits for sizes, unknown units and words', () => {
    for (const [kind, input] of [
      ['bytes', '8Gb'],
      ['bandwidth', '5 parsecs'],
      ['time', '5 fortnights'],
      ['bandwidth', 'fast'],
    ] as const) {
      expect(parseQuantity(kind, input).ok, `${kind} ${input}`).toBe(false);
    }
  });
});

describe('examples/clusters', () => {
  const cases: readonly [string, number, number, string][] = [
    ['1x2-a100.yaml', 1, 2, 'A100-80GB'],
    ['1x4-a100.yaml', 1, 4, 'A100-80GB'],
    ['1x8-a100.yaml', 1, 8, 'A100-80GB'],
    ['2x8-a100.yaml', 2, 16, 'A100-80GB'],
    ['8x8-a100.yaml', 8, 64, 'A100-80GB'],
    ['8x8-v100.yaml', 8, 64, 'V100-16GB'],
  ];
  it.each(cases)('%s: %i hosts, %i devices of %s', (file, hosts, devices, type) => {
    const c = loadCluster(path.join(EXAMPLES, file));
    expect(c.hosts.length).toBe(hosts);
    expect(c.devices.length).toBe(devices);
    expect(c.groups.map((g) => g.device.name)).toEqual([type]);
    expect(c.devices.map((d) => d.id)).toEqual([...Array(devices).keys()]);
    expect(c.interHost === undefined).toBe(hosts === 1);
  });

  it('reads the networks in bits: 200 Gb/s A100 hosts, 25 Gb/s for the Alpa V100 testbed', () => {
    expect(loadCluster(path.join(EXAMPLES, '2x8-a100.yaml')).interHost?.bandwidth).toBeCloseTo(200e9 / 8);
    expect(loadCluster(path.join(EXAMPLES, '8x8-a100.yaml')).interHost?.bandwidth).toBeCloseTo(200e9 / 8);
    expect(loadCluster(path.join(EXAMPLES, '8x8-v100.yaml')).interHost?.bandwidth).toBeCloseTo(25e9 / 8);
  });

  it('mixed.yaml: groups of different device types, one given in full', () => {
    const c = loadCluster(path.join(EXAMPLES, 'mixed.yaml'));
    expect(c.groups.map((g) => [g.hosts, g.devicesPerHost, g.device.name])).toEqual([
      [2, 8, 'A100-80GB'],
      [2, 4, 'V100-32GB'],
      [1, 2, 'RTX-4090'],
    ]);
    expect(c.hosts.length).toBe(5);
    expect(c.devices.length).toBe(26);
    const rtx = c.groups[2]?.device;
    expect(rtx?.peakFlops.float32).toBeCloseTo(82.6e12);
    expect(rtx?.memoryBytes).toBe(24 * 2 ** 30);
    expect(rtx?.efficiency.matmul).toBe(0.8);
    // device ids are host-major across groups: the first V100 host starts after 16 A100s
    expect(c.devices[16]).toMatchObject({ host: 2, local: 0, group: 1 });
  });
});

describe('presets and devices', () => {
  const one = (device: string) => parseCluster(`hosts: 1\ndevicesPerHost: 2\ndevice: ${device}\nintraHost: nvlink3\n`, 'c.yaml');

  it.each(['V100-16GB', 'A100-40GB', 'A100-80GB', 'H100-80GB'])('%s has float32, float16 and memory figures', (name) => {
    const d = one(name).groups[0]?.device;
    expect(d?.name).toBe(name);
    expect(d?.peakFlops.float16).toBeGreaterThan(d?.peakFlops.float32 ?? Infinity);
    expect(d?.memoryBytes).toBeGreaterThan(15 * 2 ** 30);
    expect(d?.memoryBandwidth).toBeGreaterThan(800e9);
  });

  // NVIDIA datasheets, dense figures (H100 SXM5: half the "with sparsity" ones); memory as nvidia-smi reports it (GiB).
  const datasheet: readonly [string, Record<string, number>, number, number][] = [
    ['V100-16GB', { float64: 7.8e12, float32: 15.7e12, float16: 125e12 }, 16 * 2 ** 30, 900e9],
    ['A100-40GB', { float64: 19.5e12, float32: 19.5e12, tf32: 156e12, float16: 312e12, bfloat16: 312e12 }, 40 * 2 ** 30, 1555e9],
    ['A100-80GB', { float64: 19.5e12, float32: 19.5e12, tf32: 156e12, float16: 312e12, bfloat16: 312e12 }, 80 * 2 ** 30, 2039e9],
    ['H100-80GB', { float64: 67e12, float32: 67e12, tf32: 494.7e12, float16: 989.4e12, bfloat16: 989.4e12 }, 80 * 2 ** 30, 3.35e12],
  ];
  it.each(datasheet)('%s: the datasheet peak per dtype, memory and HBM bandwidth', (name, peaks, memory, bandwidth) => {
    const d = one(name).groups[0]?.device;
    expect(d?.peakFlops).toEqual(peaks);
    expect(d?.memoryBytes).toBe(memory);
    expect(d?.memoryBandwidth).toBe(bandwidth);
  });

  it('A100 has tf32 and bfloat16, V100 has neither', () => {
    expect(DEVICE_PRESETS['A100-80GB']?.peakFlops.tf32).toBe(156e12);
    expect(DEVICE_PRESETS['A100-80GB']?.peakFlops.bfloat16).toBe(312e12);
    expect(DEVICE_PRESETS['V100-16GB']?.peakFlops.bfloat16).toBeUndefined();
    expect(DEVICE_PRESETS['V100-16GB']?.peakFlops.tf32).toBeUndefined();
  });

  it('accepts a preset name in any case, and a preset with overrides', () => {
    expect(one('a100-80gb').groups[0]?.device.name).toBe('A100-80GB');
    const d = one('{preset: A100-80GB, memory: 64GB, efficiency: {matmul: 0.7}}').groups[0]?.device;
    expect(d?.memoryBytes).toBe(64e9);
    expect(d?.efficiency.matmul).toBe(0.7);
    expect(d?.peakFlops.float16).toBe(312e12);
  });

  it('link presets fill bandwidth and latency', () => {
    const c = parseCluster(`hosts: 2\n${HEAD.replace(/intraHost:.*\n/, 'intraHost: pcie4\n')}interHost: ib-hdr\n`, 'c.yaml');
    expect(c.groups[0]?.intraHost.bandwidth).toBeCloseTo(31.5e9);
    expect(c.interHost?.bandwidth).toBeCloseTo(25e9);
  });
});

describe('errors name the file, the line and the key', () => {
  const cases: readonly { name: string; text: string; path: string; says: string }[] = [
    { name: 'missing key', text: `hosts: 2\n${HEAD}`, path: 'interHost', says: 'missing' },
    { name: 'missing key inside a map', text: `hosts: 2\n${HEAD}interHost: {bandwidth: 200Gb/s}\n`, path: 'interHost.latency', says: 'missing' },
    {
      name: 'negative bandwidth',
      text: `hosts: 2\n${HEAD}interHost:\n  bandwidth: -200Gb/s\n  latency: 10us\n`,
      path: 'interHost.bandwidth',
      says: 'must be positive',
    },
    { name: 'zero devices', text: 'hosts: 1\ndevicesPerHost: 0\ndevice: A100-80GB\nintraHost: nvlink3\n', path: 'devicesPerHost', says: 'positive integer' },
    { name: 'zero hosts', text: `hosts: 0\n${HEAD}`, path: 'hosts', says: 'positive integer' },
    { name: 'unknown preset', text: 'hosts: 1\ndevicesPerHost: 8\ndevice: A100\nintraHost: nvlink3\n', path: 'device', says: 'V100-16GB, V100-32GB, A100-40GB, A100-80GB, H100-80GB' },
    {
      name: 'hosts that do not fit the groups',
      text: 'hosts: 4\ninterHost: ib-hdr\ngroups:\n  - {hosts: 2, devicesPerHost: 8, device: A100-80GB, intraHost: nvlink3}\n  - {hosts: 1, devicesPerHost: 4, device: V100-16GB, intraHost: pcie3}\n',
      path: 'hosts',
      says: 'groups add up to 3',
    },
    {
      name: 'a group with nothing to inherit',
      text: 'interHost: ib-hdr\ngroups:\n  - {hosts: 2, devicesPerHost: 8, device: A100-80GB, intraHost: nvlink3}\n  - {hosts: 1, device: V100-16GB, intraHost: pcie3}\n',
      path: 'groups[1].devicesPerHost',
      says: 'missing',
    },
    { name: 'a typo in a key', text: `hosts: 1\n${HEAD}devicesperhost: 4\n`, path: 'devicesperhost', says: "did you mean 'devicesPerHost'" },
    { name: 'bits for a size', text: 'hosts: 1\ndevicesPerHost: 2\ndevice: {preset: A100-80GB, memory: 80Gb}\nintraHost: nvlink3\n', path: 'device.memory', says: 'bits' },
    { name: 'a full device without float32', text: 'hosts: 1\ndevicesPerHost: 2\ndevice: {name: X, peakFlops: {float16: 1e12}, memory: 8GB, memoryBandwidth: 1TB/s}\nintraHost: nvlink3\n', path: 'device.peakFlops.float32', says: 'missing' },
    { name: 'an unknown dtype', text: 'hosts: 1\ndevicesPerHost: 2\ndevice: {preset: A100-80GB, peakFlops: {fp8: 1e15}}\nintraHost: nvlink3\n', path: 'device.peakFlops.fp8', says: 'float32' },
  ];

  it.each(cases)('$name -> $path', ({ text, path: keyPath, says }) => {
    let caught: unknown;
    try {
      parseCluster(text, 'bad.yaml');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AutoparError);
    if (!(caught instanceof AutoparError)) return;
    expect(caught.code).toBe('E_CLUSTER');
    expect(caught.message).toMatch(new RegExp(`^bad\\.yaml:\\d+: ${keyPath.replace(/[.[\]]/g, '\\$&')}: `));
    expect(caught.message).toContain(says);
    expect(caught.message).not.toContain('\n');
  });

  it('the line is the one of the offending key', () => {
    expect(() => parseCluster(`hosts: 2\n${HEAD}interHost:\n  bandwidth: -1\n  latency: 1us\n`, 'bad.yaml')).toThrow(/^bad\.yaml:6: interHost\.bandwidth/);
  });

  it('a key given twice is named, with its line', () => {
    expect(() => parseCluster('hosts: 1\ndevicesPerHost: 4\ndevice: A100-80GB\ndevice: V100-16GB\n', 'dup.yaml')).toThrow(/^dup\.yaml:4:1: 'device' is given twice in the same map; keep one$/);
  });

  it('a YAML syntax error gives file, line and column', () => {
    expect(() => parseCluster('hosts: 2\ndevicesPerHost: [8\n', 'bad.yaml')).toThrow(/^bad\.yaml:\d+:\d+: YAML syntax error: /);
  });

  it('an empty file and a missing file say what is expected', () => {
    expect(() => parseCluster('', 'empty.yaml')).toThrow(/empty\.yaml: \(top level\): the file is empty; expected a map with hosts/);
    expect(() => loadCluster('/nonexistent/cluster.yaml')).toThrow(/cluster\.yaml: cannot read cluster file \(no such file\)/);
  });
});
