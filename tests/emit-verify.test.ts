/**
 * The device-program verifier: hand-made and generated sets of every parallelism kind
 * verify clean; each kind of corruption is reported on the right device with the right
 * label; random valid sets verify and a random single mutation of one is always caught.
 */
import { describe, expect, it } from 'vitest';
import { AutoparError } from '../src/errors.js';
import { ProgramBuilder } from '../src/emit/builder.js';
import { countCommunication, type CollectiveInstruction, type DeviceProgram, type Instruction, type MeshInfo, type ProgramSet } from '../src/emit/program.js';
import { programDigest, stableJson } from '../src/emit/stable-json.js';
import { receiveFirst } from '../src/emit/exchange.js';
import { dataParallelSet, mesh2x2Set, pipelineSet } from '../src/emit/synthetic.js';
import { assertVerified, formatProblem, verifyPrograms, type VerifyProblem } from '../src/emit/verify.js';
import { rng } from '../src/solver/random-problem.js';

const dp4 = (): ProgramSet => dataParallelSet({ devices: 4, layers: 3, rows: 2, width: 8 });
const pipe = (dp = 1): ProgramSet => pipelineSet({ schedule: '1f1b', stages: 2, microbatches: 4, dp, rows: 2, width: 4 });

/** Replaces device d's instruction list. */
function withInstructions(set: ProgramSet, d: number, f: (list: Instruction[]) => Instruction[]): ProgramSet {
  return { ...set, programs: set.programs.map((p) => (p.device === d ? { ...p, instructions: f([...p.instructions]) } : p)) };
}

function indexOf(p: DeviceProgram | undefined, pred: (ins: Instruction) => boolean): number {
  const i = p?.instructions.findIndex(pred) ?? -1;
  if (i < 0) throw new Error('fixture: instruction not found');
  return i;
}

const show = (ps: readonly VerifyProblem[]): string => ps.map(formatProblem).join('\n');

function expectClean(set: ProgramSet): void {
  const r = verifyPrograms(set);
  expect(r.ok, show(r.problems)).toBe(true);
  expect(r.problems).toEqual([]);
}

describe('verifyPrograms on valid sets', () => {
  it('a 4-device data-parallel step with per-layer all-reduces', () => {
    const set = dp4();
    expectClean(set);
    const r = verifyPrograms(set);
    expect(r.stats).toMatchObject({ devices: 4, collectives: 12, sends: 0, recvs: 0 });
    // 3 all-reduces run once each; every device's locals are steps of their own.
    expect(r.stats.simulatedSteps).toBe(r.stats.instructions - 12 + 3);
  });

  it('a 2x2 mesh with collectives on row and column groups, of every kind', () => {
    const set = mesh2x2Set();
    expectClean(set);
    const kinds = new Set(set.programs.flatMap((p) => p.instructions.flatMap((i) => (i.kind === 'collective' ? [i.op] : []))));
    expect([...kinds].sort()).toEqual(['all-gather', 'all-reduce', 'all-to-all', 'broadcast', 'reduce-scatter']);
    const groups = new Set(set.programs.flatMap((p) => p.instructions.flatMap((i) => (i.kind === 'collective' ? [i.group.join(',')] : []))));
    expect([...groups].sort()).toEqual(['0,1', '0,2', '1,3', '2,3']);
  });

  it.each([
    ['1f1b', 1],
    ['1f1b', 2],
    ['gpipe', 1],
    ['gpipe', 2],
  ] as const)('a 2-stage %s pipeline, 4 micro-batches, dp %i per stage', (schedule, dp) => {
    const set = pipelineSet({ schedule, stages: 2, microbatches: 4, dp, rows: 2, width: 4 });
    expectClean(set);
    expect(verifyPrograms(set).stats.sends).toBe(8 * dp);
  });

  it('deeper pipelines of both schedules verify', () => {
    for (const schedule of ['gpipe', '1f1b'] as const)
      for (let stages = 1; stages <= 4; stages++) expectClean(pipelineSet({ schedule, stages, microbatches: 5, dp: 2, rows: 2, width: 4 }));
  });

  it('passes/schedule order deadlocks under synchronous sends; receiving first on the later stage does not', () => {
    const raw = verifyPrograms(pipelineSet({ schedule: '1f1b', stages: 2, microbatches: 4, dp: 1, rows: 2, width: 4, scheduleOrder: true }));
    expect(raw.problems.map((p) => [p.check, p.device, p.label])).toEqual([
      ['deadlock', 0, 'act0->1@1'],
      ['deadlock', 1, 'grad1->0@0'],
    ]);
    for (const schedule of ['gpipe', '1f1b'] as const)
      for (let stages = 1; stages <= 6; stages++)
        for (let microbatches = 1; microbatches <= 8; microbatches++) {
          const r = verifyPrograms(pipelineSet({ schedule, stages, microbatches, dp: 1, rows: 1, width: 2 }));
          expect(r.ok, `${schedule} S=${stages} M=${microbatches}: ${show(r.problems)}`).toBe(true);
        }
  });

  it('assertVerified passes a clean set', () => {
    expect(() => assertVerified(mesh2x2Set())).not.toThrow();
  });
});

describe('verifyPrograms catches corruption', () => {
  it('a dropped recv: the send on the other device is unmatched and blocks', () => {
    const set = pipe();
    const p1 = set.programs[1];
    const i = indexOf(p1, (x) => x.kind === 'recv' && x.label === 'act0->1@2');
    const bad = withInstructions(set, 1, (l) => l.filter((_, k) => k !== i));
    const r = verifyPrograms(bad);
    expect(r.ok).toBe(false);
    const unmatched = r.problems.find((p) => p.check === 'send-recv');
    expect(unmatched).toMatchObject({ device: 0, label: 'act0->1@2' });
    expect(unmatched?.message).toContain('no matching recv on device 1');
    // The tensor the recv defined is now used undefined on device 1.
    expect(r.problems.some((p) => p.check === 'tensors' && p.device === 1 && p.message.includes("'a@2'"))).toBe(true);
    expect(r.problems.some((p) => p.check === 'deadlock' && p.device === 0 && p.label === 'act0->1@2')).toBe(true);
  });

  it('a swapped pair of all-reduces on one device', () => {
    const set = dp4();
    const p2 = set.programs[2];
    const a = indexOf(p2, (x) => x.kind === 'collective' && x.label === 'W3.grad->update/W3#0');
    const b = indexOf(p2, (x) => x.kind === 'collective' && x.label === 'W2.grad->update/W2#0');
    const bad = withInstructions(set, 2, (l) => {
      const [x, y] = [l[a]!, l[b]!];
      l[a] = y;
      l[b] = x;
      return l;
    });
    const r = verifyPrograms(bad);
    expect(r.ok).toBe(false);
    const col = r.problems.filter((p) => p.check === 'collectives');
    expect(col).toHaveLength(1);
    expect(col[0]).toMatchObject({ device: 2, index: a, label: 'W2.grad->update/W2#0' });
    expect(col[0]?.message).toContain("devices 0,1,3 have all-reduce 'W3.grad->update/W3#0'");
    // Swapping made W2's all-reduce run before its input exists.
    expect(r.problems.some((p) => p.check === 'tensors' && p.device === 2 && p.message.includes("'dW2' is used before it is defined"))).toBe(true);
  });

  it('swapped all-reduces whose inputs both exist: only the matching check sees it', () => {
    const set = dp4();
    // Move every all-reduce after the backward, then swap two on device 1 only.
    const late = (l: Instruction[]): Instruction[] => [...l.filter((x) => x.kind !== 'collective' && x.kind !== 'update'), ...l.filter((x) => x.kind === 'collective'), ...l.filter((x) => x.kind === 'update')];
    let moved: ProgramSet = set;
    for (const d of [0, 1, 2, 3]) moved = withInstructions(moved, d, late);
    expectClean(moved);
    const first = indexOf(moved.programs[1], (x) => x.kind === 'collective');
    const bad = withInstructions(moved, 1, (l) => {
      const [x, y] = [l[first]!, l[first + 1]!];
      l[first] = y;
      l[first + 1] = x;
      return l;
    });
    const r = verifyPrograms(bad);
    expect(r.problems.map((p) => [p.check, p.device, p.index])).toEqual([['collectives', 1, first]]);
  });

  it('a collective with a wrong element count', () => {
    const set = mesh2x2Set();
    const i = indexOf(set.programs[3], (x) => x.kind === 'collective' && x.op === 'all-reduce' && x.label.startsWith('W2.grad'));
    const bad = withInstructions(set, 3, (l) => l.map((x, k) => (k === i && x.kind === 'collective' ? { ...x, count: x.count + 1 } : x)));
    const r = verifyPrograms(bad);
    expect(r.ok).toBe(false);
    const col = r.problems.filter((p) => p.check === 'collectives');
    // Group [1,3] has two members: a tie, so both are named.
    expect(col.map((p) => p.device).sort()).toEqual([1, 3]);
    expect(col.every((p) => p.label === 'W2.grad->update/W2#0')).toBe(true);
    expect(r.problems.some((p) => p.check === 'tensors' && p.device === 3 && p.index === i && p.message.includes('elements'))).toBe(true);
  });

  it('a member missing from a group', () => {
    const set = dp4();
    const i = indexOf(set.programs[0], (x) => x.kind === 'collective' && x.label === 'W1.grad->update/W1#0');
    const bad = withInstructions(set, 0, (l) => l.map((x, k) => (k === i && x.kind === 'collective' ? { ...x, group: [0, 1, 2] } : x)));
    const r = verifyPrograms(bad);
    expect(r.ok).toBe(false);
    const col = r.problems.filter((p) => p.check === 'collectives');
    // Over [0,1,2] only device 0 has it; over [0,1,2,3] device 0 lacks it.
    expect(col.length).toBeGreaterThanOrEqual(2);
    expect(col.every((p) => p.device === 0)).toBe(true);
    expect(col.some((p) => p.message.includes('[0,1,2]') && p.message.includes('devices 1,2 have no collective'))).toBe(true);
    expect(col.some((p) => p.message.includes('missing collective #2 over [0,1,2,3]') && p.label === 'W1.grad->update/W1#0')).toBe(true);
    // Devices 1..3 wait for device 0 at W1's all-reduce forever.
    expect(r.problems.filter((p) => p.check === 'deadlock').map((p) => p.device)).toEqual([0, 1, 2, 3]);
  });

  it('both devices send first: a deadlock under synchronous sends', () => {
    const exchange = (sendFirstOn1: boolean): ProgramSet => {
      const mesh: MeshInfo = { shape: [2], axes: ['x'], devices: [0, 1] };
      const programs = [0, 1].map((d) => {
        const b = new ProgramBuilder(d, 0, mesh).tensor('mine', [4]).tensor('theirs', [4]).input('mine', 'x');
        const send = (): void => void b.send(1 - d, 0, 'mine', `swap ${d}->${1 - d}`);
        const recv = (): void => void b.recv(1 - d, 0, 'theirs', `swap ${1 - d}->${d}`);
        if (d === 0 || sendFirstOn1) {
          send();
          recv();
        } else {
          recv();
          send();
        }
        return b.output('theirs').build();
      });
      return { schedule: { kind: 'none', stages: 1, microbatches: 1 }, programs };
    };
    expectClean(exchange(false));
    const r = verifyPrograms(exchange(true));
    expect(r.problems.map((p) => [p.check, p.device, p.index, p.label])).toEqual([
      ['deadlock', 0, 1, 'swap 0->1'],
      ['deadlock', 1, 1, 'swap 1->0'],
    ]);
    expect(r.problems[0]?.message).toContain("device 1 is at #1 send to 0 tag 0 'swap 1->0'");
    // receiveFirst repairs it on device 1, and leaves an exchange that already has a receiving side alone.
    expectClean(receiveFirst(exchange(true)));
    expect(receiveFirst(exchange(true)).programs[1]?.instructions.map((i) => i.kind)).toEqual(['input', 'recv', 'send']);
    expect(receiveFirst(exchange(false))).toEqual(exchange(false));
  });

  it('a pipeline whose first stage waits for a gradient before sending the activation', () => {
    const set = pipe();
    const send = indexOf(set.programs[0], (x) => x.kind === 'send' && x.mb === 0);
    const recv = indexOf(set.programs[0], (x) => x.kind === 'recv' && x.mb === 0);
    const bad = withInstructions(set, 0, (l) => {
      const r = l.splice(recv, 1)[0]!;
      l.splice(send, 0, r);
      return l;
    });
    const r = verifyPrograms(bad);
    expect(r.problems.map((p) => [p.check, p.device, p.label])).toEqual([
      ['deadlock', 0, 'grad1->0@0'],
      ['deadlock', 1, 'act0->1@0'],
    ]);
  });

  it('a tensor used before its definition', () => {
    const set = mesh2x2Set();
    const relu = indexOf(set.programs[2], (x) => x.kind === 'compute' && x.op === 'Relu');
    const bad = withInstructions(set, 2, (l) => {
      const x = l.splice(relu, 1)[0]!;
      l.splice(relu - 1, 0, x);
      return l;
    });
    const r = verifyPrograms(bad);
    expect(r.problems.map((p) => [p.check, p.device, p.index, p.label])).toEqual([['tensors', 2, relu - 1, '/act/Relu']]);
    expect(r.problems[0]?.message).toContain(`tensor 'a' is used before it is defined (at #${relu})`);
  });

  it('shape rules of each collective kind', () => {
    const set = mesh2x2Set();
    const wrongOut = (op: CollectiveInstruction['op'], shape: number[]): ProgramSet => {
      const p = set.programs[0]!;
      const c = p.instructions.find((x): x is CollectiveInstruction => x.kind === 'collective' && x.op === op)!;
      return { ...set, programs: set.programs.map((q) => (q.device === 0 ? { ...q, tensors: q.tensors.map((t) => (t.name === c.output ? { ...t, shape } : t)) } : q)) };
    };
    const messages = (s: ProgramSet): string => verifyPrograms(s).problems.map((p) => p.message).join('\n');
    expect(messages(wrongOut('all-gather', [2, 8]))).toContain('all-gather over 2 of [4,8] gives [8,8], output is [2,8]');
    expect(messages(wrongOut('reduce-scatter', [8, 8]))).toContain('reduce-scatter over 2 of [8,8] gives [4,8], output is [8,8]');
    expect(messages(wrongOut('all-to-all', [4, 8]))).toContain('all-to-all over 2 of [4,8] gives [2,16], output is [4,8]');
    expect(messages(wrongOut('all-reduce', [4, 4]))).toContain('all-reduce over 2 of [4,8] gives [4,8], output is [4,4]');
    // An input that does not split: reduce-scatter of 3 rows over 2.
    const mesh: MeshInfo = { shape: [2], axes: ['x'], devices: [0, 1] };
    const odd: ProgramSet = {
      schedule: { kind: 'none', stages: 1, microbatches: 1 },
      programs: [0, 1].map((d) => {
        const b = new ProgramBuilder(d, 0, mesh).tensor('g', [3, 2]).input('g', 'g');
        b.collective({ op: 'reduce-scatter', axis: 0 }, { input: 'g', output: 'gs', group: [0, 1], value: 'g', consumer: 'u' });
        return b.build();
      }),
    };
    expect(messages(odd)).toContain('input dimension 0 of [3,2] is not divisible by 2');
  });

  it('structure: a group without the device, a bad peer or tag, a program out of place', () => {
    const set = pipe(2);
    const i = indexOf(set.programs[1], (x) => x.kind === 'collective');
    const j = indexOf(set.programs[2], (x) => x.kind === 'recv');
    let bad = withInstructions(set, 1, (l) => l.map((x, k) => (k === i && x.kind === 'collective' ? { ...x, group: [0, 2] } : x)));
    bad = withInstructions(bad, 2, (l) => l.map((x, k) => (k === j && x.kind === 'recv' ? { ...x, tag: 40000 } : x)));
    const r = verifyPrograms(bad);
    const structure = r.problems.filter((p) => p.check === 'structure').map((p) => [p.device, p.index]);
    expect(structure).toEqual([
      [1, i],
      [2, j],
    ]);
    const swapped: ProgramSet = { ...set, programs: [set.programs[1]!, set.programs[0]!, ...set.programs.slice(2)] };
    expect(verifyPrograms(swapped).problems.filter((p) => p.check === 'structure' && p.index === -1)).toHaveLength(2);
  });

  it('assertVerified throws E_INTERNAL that calls it a compiler bug and names the first problems', () => {
    const set = dp4();
    const bad = withInstructions(set, 3, (l) => l.filter((x) => !(x.kind === 'collective' && x.label === 'W1.grad->update/W1#0')));
    let caught: unknown;
    try {
      assertVerified(bad);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AutoparError);
    const err = caught as AutoparError;
    expect(err.code).toBe('E_INTERNAL');
    expect(err.message).toMatch(/^device programs failed verification \(a compiler bug/);
    expect(err.message).toContain('device 3');
    expect(err.message).toContain('W1.grad->update/W1#0');
  });
});

describe('countCommunication', () => {
  it('predicts per kind what the collective library counts on each rank (nccl-tests bytes)', () => {
    const set = mesh2x2Set();
    // W1 shard [8,8] float32 = 256 B; the all-gather counts its gathered output.
    expect(countCommunication(set.programs[0]!)).toEqual({
      broadcast: { count: 1, bytes: 4 },
      'all-to-all': { count: 1, bytes: 128 },
      'all-reduce': { count: 3, bytes: 128 + 128 + 256 },
      'reduce-scatter': { count: 1, bytes: 256 },
      'all-gather': { count: 1, bytes: 256 },
    });
    const pipeSet = pipe();
    expect(countCommunication(pipeSet.programs[0]!)).toEqual({ send: { count: 4, bytes: 4 * 32 }, recv: { count: 4, bytes: 4 * 32 } });
  });
});

describe('stable JSON and digests', () => {
  it('are deterministic and independent of key order', () => {
    expect(programDigest(dp4())).toBe(programDigest(dp4()));
    expect(stableJson({ b: 1, a: [1, { d: null, c: 'x' }] })).toBe('{"a":[1,{"c":"x","d":null}],"b":1}');
    const p = mesh2x2Set().programs[0]!;
    const reordered: DeviceProgram = { outputs: p.outputs, instructions: p.instructions, tensors: p.tensors, mesh: p.mesh, stage: p.stage, device: p.device };
    expect(programDigest(reordered)).toBe(programDigest(p));
    expect(programDigest(p)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('change with any instruction', () => {
    const set = pipe();
    const changed = withInstructions(set, 1, (l) => l.map((x) => (x.kind === 'send' && x.mb === 3 ? { ...x, tag: 99 } : x)));
    expect(programDigest(changed)).not.toBe(programDigest(set));
    expect(() => stableJson({ x: Number.NaN })).toThrow(AutoparError);
  });
});

/**
 * A random valid set: one global sequence of events (local compute, a collective over a
 * random group, a send/recv pair), each appended to its participants' programs, so every
 * device's list is a projection of one total order and the set runs in that order.
 */
function randomSet(seed: number): ProgramSet {
  const next = rng(seed);
  const int = (k: number): number => Math.floor(next() * k);
  const n = 2 + int(5);
  const devices = Array.from({ length: n }, (_, d) => d);
  const mesh: MeshInfo = { shape: [n], axes: ['x'], devices };
  const bs = devices.map((d) => new ProgramBuilder(d, 0, mesh).tensor('in', [2]).input('in', 'in'));
  const last = devices.map(() => 'in');
  const make = (d: number, name: string, shape: number[], node: string): void => {
    bs[d]!.tensor(name, shape).compute('Fill', node, [last[d]!], [name], { shape });
    last[d] = name;
  };
  const ops = ['all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all', 'broadcast'] as const;
  const events = 5 + int(30);
  for (let e = 0; e < events; e++) {
    const r = next();
    if (r < 0.3) {
      const d = int(n);
      make(d, `t${e}`, [1 + int(3)], `n${e}@${d}`);
    } else if (r < 0.7) {
      const group = devices.filter(() => next() < 0.6);
      if (group.length < 2) continue;
      const op = ops[int(ops.length)]!;
      const g = group.length;
      const c = 1 + int(3);
      const root = group[int(g)]!;
      for (const d of group) {
        const shape = op === 'reduce-scatter' || op === 'all-to-all' ? [g * c, 2] : [c, 2];
        make(d, `i${e}`, shape, `n${e}@${d}`);
        const args = { input: `i${e}`, output: `o${e}`, group, value: `v${e}`, consumer: `c${e}` };
        switch (op) {
          case 'all-reduce':
            bs[d]!.collective({ op }, args);
            break;
          case 'broadcast':
            bs[d]!.collective({ op, root }, args);
            break;
          case 'all-gather':
          case 'reduce-scatter':
            bs[d]!.collective({ op, axis: 0 }, args);
            break;
          case 'all-to-all':
            bs[d]!.collective({ op, splitAxis: 0, concatAxis: 1 }, args);
            break;
        }
        last[d] = `o${e}`;
      }
    } else {
      const from = int(n);
      const to = (from + 1 + int(n - 1)) % n;
      const tag = int(3); // few tags, so channels carry several messages in order
      make(from, `s${e}`, [1 + int(4)], `n${e}@${from}`);
      bs[from]!.send(to, tag, `s${e}`, `m${e}`);
      bs[to]!.tensor(`r${e}`, bs[from]!.decl(`s${e}`).shape).recv(from, tag, `r${e}`, `m${e}`);
      last[to] = `r${e}`;
    }
  }
  return { schedule: { kind: 'none', stages: 1, microbatches: 1 }, programs: devices.map((d) => bs[d]!.output(last[d]!).build()) };
}

type Mutation = 'drop' | 'swap' | 'count' | 'group' | 'tag' | 'peer' | 'use-before-def';
const MUTATIONS: readonly Mutation[] = ['drop', 'swap', 'count', 'group', 'tag', 'peer', 'use-before-def'];

/** One mutation that always makes the set invalid, and the label the report must mention; null if none applies. */
function mutate(set: ProgramSet, kind: Mutation, seed: number): { set: ProgramSet; device: number; label: string } | null {
  const next = rng(seed);
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(next() * xs.length)];
  const sites = set.programs.flatMap((p) => p.instructions.map((ins, index) => ({ d: p.device, index, ins })));
  const replace = (d: number, index: number, ins: Instruction): ProgramSet => withInstructions(set, d, (l) => l.map((x, k) => (k === index ? ins : x)));
  switch (kind) {
    case 'drop': {
      const s = pick(sites.filter((x) => x.ins.kind === 'collective' || x.ins.kind === 'send' || x.ins.kind === 'recv'));
      if (!s || s.ins.kind === 'compute' || s.ins.kind === 'accumulate' || s.ins.kind === 'load' || s.ins.kind === 'input') return null;
      return { set: withInstructions(set, s.d, (l) => l.filter((_, k) => k !== s.index)), device: s.d, label: s.ins.label };
    }
    case 'swap': {
      const pairs = set.programs.flatMap((p) => {
        const cols = p.instructions.flatMap((ins, index) => (ins.kind === 'collective' ? [{ ins, index }] : []));
        return cols.flatMap((a, i) => cols.slice(i + 1).filter((b) => b.ins.group.join() === a.ins.group.join()).map((b) => ({ d: p.device, a, b })));
      });
      const s = pick(pairs);
      if (!s) return null;
      const swapped = withInstructions(set, s.d, (l) => l.map((x, k) => (k === s.a.index ? s.b.ins : k === s.b.index ? s.a.ins : x)));
      return { set: swapped, device: s.d, label: s.a.ins.label };
    }
    case 'count': {
      const s = pick(sites.filter((x) => x.ins.kind === 'collective' || x.ins.kind === 'send' || x.ins.kind === 'recv'));
      if (!s || !(s.ins.kind === 'collective' || s.ins.kind === 'send' || s.ins.kind === 'recv')) return null;
      return { set: replace(s.d, s.index, { ...s.ins, count: s.ins.count + 1 }), device: s.d, label: s.ins.label };
    }
    case 'group': {
      const s = pick(sites.filter((x) => x.ins.kind === 'collective'));
      if (!s || s.ins.kind !== 'collective') return null;
      const drop = pick(s.ins.group.filter((m) => m !== s.d))!;
      return { set: replace(s.d, s.index, { ...s.ins, group: s.ins.group.filter((m) => m !== drop) }), device: s.d, label: s.ins.label };
    }
    case 'tag': {
      const s = pick(sites.filter((x) => x.ins.kind === 'send'));
      if (!s || s.ins.kind !== 'send') return null;
      return { set: replace(s.d, s.index, { ...s.ins, tag: s.ins.tag + 100 }), device: s.d, label: s.ins.label };
    }
    case 'peer': {
      const s = pick(sites.filter((x) => x.ins.kind === 'recv'));
      if (!s || s.ins.kind !== 'recv') return null;
      const recv = s.ins;
      const others = set.programs.map((p) => p.device).filter((d) => d !== s.d && d !== recv.peer);
      const peer = pick(others);
      if (peer === undefined) return null;
      return { set: replace(s.d, s.index, { ...recv, peer }), device: s.d, label: recv.label };
    }
    case 'use-before-def': {
      const s = pick(sites.filter((x) => x.ins.kind === 'compute' && x.ins.inputs.length > 0));
      if (!s || s.ins.kind !== 'compute') return null;
      const program = set.programs[s.d]!;
      const later = program.instructions.slice(s.index).flatMap((x) => (x.kind === 'compute' ? x.outputs : x.kind === 'collective' ? [x.output] : x.kind === 'recv' ? [x.tensor] : []));
      const input = pick(later) ?? 'never-declared';
      return { set: replace(s.d, s.index, { ...s.ins, inputs: [input, ...s.ins.inputs.slice(1)] }), device: s.d, label: s.ins.node };
    }
  }
}

describe('property: random sets', () => {
  it('400 random valid sets verify, and are deterministic', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const set = randomSet(seed);
      const r = verifyPrograms(set);
      expect(r.ok, `seed ${seed}: ${show(r.problems)}`).toBe(true);
      // Every exchange in a projection of one total order already has a receiving side.
      expect(verifyPrograms(receiveFirst(set)).ok, `seed ${seed} after receiveFirst`).toBe(true);
      if (seed % 50 === 0) expect(programDigest(randomSet(seed))).toBe(programDigest(set));
    }
  });

  it('a random single mutation of a valid set is always reported, naming its label', () => {
    let applied = 0;
    const byKind = new Map<Mutation, number>();
    for (let seed = 1; seed <= 700; seed++) {
      const kind = MUTATIONS[seed % MUTATIONS.length]!;
      const m = mutate(randomSet(seed), kind, seed * 7919);
      if (!m) continue;
      applied += 1;
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
      const r = verifyPrograms(m.set);
      expect(r.ok, `seed ${seed} ${kind} on device ${m.device} '${m.label}'`).toBe(false);
      const named = r.problems.some((p) => p.label === m.label || p.message.includes(`'${m.label}'`));
      expect(named, `seed ${seed} ${kind} '${m.label}':\n${show(r.problems)}`).toBe(true);
    }
    expect(applied).toBeGreaterThan(600);
    for (const kind of MUTATIONS) expect(byKind.get(kind) ?? 0, kind).toBeGreaterThan(50);
  });

  it('two communications crossed on one device (a peer in both, different groups or channels) always deadlock', () => {
    const identity = (ins: Instruction): string =>
      ins.kind === 'collective' ? `c ${ins.group.join(',')}` : ins.kind === 'send' ? `s ${ins.peer}:${ins.tag}` : ins.kind === 'recv' ? `r ${ins.peer}:${ins.tag}` : '';
    const peers = (ins: Instruction, self: number): readonly number[] =>
      ins.kind === 'collective' ? ins.group.filter((m) => m !== self) : ins.kind === 'send' || ins.kind === 'recv' ? [ins.peer] : [];
    let crossed = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const set = randomSet(seed);
      const next = rng(seed * 31);
      const candidates = set.programs.flatMap((p) => {
        const blocking = p.instructions.flatMap((ins, index) => (identity(ins) === '' ? [] : [{ ins, index }]));
        return blocking.slice(1).flatMap((b, k) => {
          const a = blocking[k]!;
          const shared = peers(a.ins, p.device).filter((m) => peers(b.ins, p.device).includes(m));
          return shared.length > 0 && identity(a.ins) !== identity(b.ins) ? [{ d: p.device, a, b, shared }] : [];
        });
      });
      const c = candidates[Math.floor(next() * candidates.length)];
      if (!c) continue;
      crossed += 1;
      const bad = withInstructions(set, c.d, (l) => l.map((x, k) => (k === c.a.index ? c.b.ins : k === c.b.index ? c.a.ins : x)));
      const stuck = verifyPrograms(bad).problems.filter((p) => p.check === 'deadlock').map((p) => p.device);
      expect(stuck, `seed ${seed}: device ${c.d} #${c.a.index} <-> #${c.b.index}`).toContain(c.d);
      for (const m of c.shared) expect(stuck, `seed ${seed}: peer ${m}`).toContain(m);
    }
    expect(crossed).toBeGreaterThan(200);
  });
});
