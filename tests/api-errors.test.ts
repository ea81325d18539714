/**
 * A user's mistakes through the programmatic API: each is an AutoparError with a code,
 * one line, naming the file, key or option, what was expected and what would work.
 * (The CLI's are in bad-input.test.ts and compile-cli.test.ts; these are the API's.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AutoparError, compare, compile, run, sweep, type ErrorCode } from '../src/api.js';
import { model, ROOT } from './helpers/cli.js';
import { compileModel } from '../src/planner/compile.js';
import { parseCluster } from '../src/cluster/load.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autopar-api-errors-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CLUSTER4 = path.join(ROOT, 'examples', 'clusters', '1x4-a100.yaml');

/** A host of `n` devices with `memory` each (a made-up small device, so that models overflow it). */
const tinyCluster = (n: number, memory: string): { yaml: string; name: string } => ({
  name: `tiny-${n}.yaml`,
  yaml: `hosts: 1\ndevicesPerHost: ${n}\ndevice: {name: Tiny, peakFlops: {float32: 19.5e12}, memory: ${memory}, memoryBandwidth: 2TB/s}\nintraHost: {bandwidth: 300GB/s, latency: 5us}\n`,
});

async function failure(p: Promise<unknown>): Promise<AutoparError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, 'the call should fail').toBeInstanceOf(AutoparError);
  const err = e as AutoparError;
  expect(err.message).not.toContain('\n');
  expect(err.message).not.toMatch(/undefined|\[object |internal error/);
  return err;
}

function expectError(err: AutoparError, code: ErrorCode, ...mentions: (string | RegExp)[]): void {
  expect(err.code, err.message).toBe(code);
  for (const m of mentions) {
    if (typeof m === 'string') expect(err.message).toContain(m);
    else expect(err.message).toMatch(m);
  }
}

describe('API mistakes: a clear AutoparError each', () => {
  it('a wrong model path names the file', async () => {
    const file = path.join(tmp, 'no-such-model.onnx');
    expectError(await failure(compile({ model: file, cluster: CLUSTER4 })), 'E_FILE', file, 'no such file');
    expectError(await failure(compare({ model: tmp, cluster: CLUSTER4 })), 'E_FILE', tmp, 'directory');
  });

  it('bytes that are not ONNX name the model they were given as', async () => {
    expectError(await failure(compile({ model: new TextEncoder().encode('not a model'), modelName: 'mine.onnx', cluster: CLUSTER4 })), 'E_PARSE', 'mine.onnx');
    expectError(await failure(compile({ model: new Uint8Array(4), modelName: '../up.onnx', cluster: CLUSTER4 })), 'E_USAGE', "modelName '../up.onnx' must be a plain file name");
  });

  it('a YAML error in the cluster gives file, line and what is expected', async () => {
    expectError(await failure(compile({ model: model('mlp.onnx'), cluster: { yaml: 'hosts: 2\ndevicesPerHost: [8\n', name: 'bad.yaml' } })), 'E_CLUSTER', /^bad\.yaml:\d+:\d+: YAML syntax error: /);
    expectError(await failure(compile({ model: model('mlp.onnx'), cluster: { yaml: 'hosts: 1\ndevicesPerHost: eight\ndevice: A100-80GB\nintraHost: nvlink3\n', name: 'key.yaml' } })), 'E_CLUSTER', /^key\.yaml:2: devicesPerHost: /);
    const missing = path.join(tmp, 'no-cluster.yaml');
    expectError(await failure(compile({ model: model('mlp.onnx'), cluster: missing })), 'E_CLUSTER', missing, 'no such file', 'examples/clusters/');
  });

  it('a model that fits nowhere says by how much and how many devices would do, and that many do', async () => {
    const err = await failure(compile({ model: model('mlp.onnx'), cluster: tinyCluster(2, '8MB') }));
    expectError(err, 'E_USAGE', 'mlp.onnx does not fit on 2 x Tiny', /needs 16\.\d MiB per device, and each has 7\.6 MiB \(short by 9\.\d MiB\)/, '--allow-oom');
    const devices = Number(/use about (\d+) devices/.exec(err.message)?.[1]);
    expect(devices).toBeGreaterThan(2);
    // The suggestion is honest: on a host of the next power of two at least that large, it fits.
    const enough = 2 ** Math.ceil(Math.log2(devices));
    const ok = await compile({ model: model('mlp.onnx'), cluster: tinyCluster(enough, '8MB') });
    expect(ok.peakMemoryBytesPerDevice).toBeLessThanOrEqual(8e6);
  }, 120_000);

  it('a model that fits nowhere is refused before any mesh is planned, with the message the search gives', async () => {
    const cluster = tinyCluster(2, '8MB');
    const meshes: string[] = [];
    const early = await failure(compileModel({ model: model('mlp.onnx'), cluster: parseCluster(cluster.yaml, cluster.name), progress: (e) => void (e.kind === 'mesh' && meshes.push(e.shape.join('x'))) }));
    expect(meshes).toEqual([]);
    // A pin (here one that changes nothing: the input whole) keeps the search, which reaches the same verdict mesh by mesh.
    const searched = await failure(compileModel({ model: model('mlp.onnx'), cluster: parseCluster(cluster.yaml, cluster.name), pin: { x: { dims: [[], []], partial: [] } }, progress: (e) => void (e.kind === 'mesh' && meshes.push(e.shape.join('x'))) }));
    expect(meshes).toEqual(['2']);
    expect(early.message).toBe(searched.message);
    expectError(early, 'E_USAGE', 'even sharding every parameter');
  }, 120_000);

  it('a strategy that replicates what does not fit says by how much, and that a sharding strategy would', async () => {
    const err = await failure(compile({ model: model('mlp.onnx'), cluster: tinyCluster(8, '8MB'), strategy: 'dp' }));
    expectError(err, 'E_USAGE', 'mlp.onnx does not fit on 8 x Tiny with strategy dp', /its best layout needs 3\d\.\d MiB per device and each has 7\.6 MiB \(short by 2\d\.\d MiB\)/, 'strategy auto or zero3');
    const zero3 = await compile({ model: model('mlp.onnx'), cluster: tinyCluster(8, '8MB'), strategy: 'zero3' });
    expect(zero3.peakMemoryBytesPerDevice).toBeLessThanOrEqual(8e6);
  }, 120_000);

  it('a batch that the data-parallel degree does not divide says which multiple would', async () => {
    const err = await failure(compile({ model: model('gpt2_tiny_opset17.onnx'), cluster: CLUSTER4, batch: 6, strategy: 'dp', loss: 'cross-entropy' }));
    expectError(err, 'E_USAGE', 'batch 6, which does not divide into 4 data-parallel replicas', 'a multiple of 4');
    // A grid's dp degree counts, not the devices: dp=2 splits 6.
    const grid = await compile({ model: model('gpt2_tiny_opset17.onnx'), cluster: CLUSTER4, batch: 6, strategy: 'dp=2,tp=2', loss: 'cross-entropy' });
    expect(grid.stages[0]?.meshShape).toEqual([2, 2]);
  }, 120_000);

  it('a strategy that makes no sense for the cluster says what would', async () => {
    expectError(await failure(compile({ model: model('mlp.onnx'), cluster: CLUSTER4, strategy: 'tensorwise' })), 'E_USAGE', "'tensorwise' is not a strategy", 'dp=D,tp=T,pp=P');
    expectError(await failure(compile({ model: model('mlp.onnx'), cluster: CLUSTER4, strategy: 'dp=3,tp=1' })), 'E_USAGE', 'uses 3 devices but the cluster has 4', 'multiply to 4');
    expectError(await failure(compile({ model: model('mlp.onnx'), cluster: CLUSTER4, strategy: 'dp=2,tp=2', mesh: [4] })), 'E_USAGE', '--mesh goes with --strategy auto');
    expectError(await failure(compile({ model: model('mlp.onnx'), cluster: path.join(ROOT, 'examples', 'clusters', 'mixed.yaml'), strategy: 'megatron' })), 'E_USAGE', 'heterogeneous cluster');
    expectError(await failure(sweep({ model: model('mlp.onnx'), cluster: path.join(ROOT, 'examples', 'clusters', 'mixed.yaml'), devices: [8, 16] })), 'E_USAGE', 'host groups');
  });

  it('options of the wrong kind from plain JS are named', async () => {
    const bad = (o: object): Promise<unknown> => compile({ model: model('mlp.onnx'), cluster: CLUSTER4, ...o });
    expectError(await failure(bad({ batch: 0 })), 'E_USAGE', 'batch must be a positive integer, got 0');
    expectError(await failure(bad({ loss: 'hinge' })), 'E_USAGE', "loss must be one of mse, cross-entropy, got 'hinge'");
    expectError(await failure(bad({ model: 42 })), 'E_USAGE', 'model must be an ONNX file path or its bytes');
    expectError(await failure(bad({ cluster: undefined })), 'E_USAGE', 'cluster: expected a cluster.yaml path, { yaml } or a Cluster');
    expectError(await failure(sweep({ model: model('mlp.onnx'), cluster: CLUSTER4, devices: [4, 8], mesh: [2, 2] })), 'E_USAGE', '--mesh 2x2 fits one cluster size');
    expectError(await failure(run(tmp)), 'E_FILE', `${tmp}: no plan.json there`);
    fs.writeFileSync(path.join(tmp, 'plan.json'), '{}');
    expectError(await failure(run(tmp, { steps: 0 })), 'E_USAGE', 'steps must be a whole number of steps, at least 1');
  });
});
