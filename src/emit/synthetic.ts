/**
 * Hand-shaped program sets of the three parallelism kinds (data parallel, a 2 x 2
 * tensor x data mesh, a pipeline from passes/schedule), for tests of the verifier and
 * printer and for runtime tests before the lowering from plans exists. The compute ops
 * are plausible names (MatMul, MatMulGradB, ...), not a model the executor runs.
 */
import { buildSchedule, type ScheduleKind } from '../../passes/schedule/schedule.js';
import { ProgramBuilder } from './builder.js';
import { receiveFirst } from './exchange.js';
import type { MeshInfo, ProgramSet } from './program.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

export interface DataParallelOptions {
  readonly devices: number;
  readonly layers: number;
  /** Rows of each device's batch shard. */
  readonly rows: number;
  readonly width: number;
}

/** Every device holds every weight; each layer's gradient is all-reduced as soon as it is ready. */
export function dataParallelSet(o: DataParallelOptions): ProgramSet {
  const world = range(o.devices);
  const mesh: MeshInfo = { shape: [o.devices], axes: ['dp'], devices: world };
  const programs = world.map((d) => {
    const b = new ProgramBuilder(d, 0, mesh);
    const w = (l: number): string => `W${l}`;
    for (let l = 1; l <= o.layers; l++) {
      b.tensor(w(l), [o.width, o.width]);
      b.tensor(`m${l}`, [o.width, o.width], { source: `${w(l)}.adam_m`, init: 'zeros' });
      b.tensor(`v${l}`, [o.width, o.width], { source: `${w(l)}.adam_v`, init: 'zeros' });
      b.load(w(l), `weights/${w(l)}.bin`);
    }
    b.tensor('x', [o.rows, o.width], { sharding: 'S(dp)R' });
    b.tensor('y', [o.rows, o.width], { sharding: 'S(dp)R' });
    b.input('x', 'x').input('y', 'y');
    let h = 'x';
    for (let l = 1; l <= o.layers; l++) {
      const out = `h${l}`;
      b.tensor(out, [o.rows, o.width], { sharding: 'S(dp)R' });
      b.compute('MatMul', `/layer${l}/MatMul`, [h, w(l)], [out]);
      h = out;
    }
    b.tensor('loss', [], { sharding: 'partial(dp)' });
    b.tensor(`dh${o.layers}`, [o.rows, o.width], { sharding: 'S(dp)R' });
    b.compute('MseLoss', '/loss', [h, 'y'], ['loss']);
    b.compute('MseLossGrad', '/loss_grad', [h, 'y'], [`dh${o.layers}`]);
    for (let l = o.layers; l >= 1; l--) {
      const prev = l === 1 ? 'x' : `h${l - 1}`;
      b.tensor(`dW${l}`, [o.width, o.width], { source: `${w(l)}.grad`, sharding: 'R partial(dp)' });
      b.compute('MatMulGradB', `/layer${l}/MatMul_grad_b`, [prev, `dh${l}`], [`dW${l}`]);
      if (l > 1) {
        b.tensor(`dh${l - 1}`, [o.rows, o.width], { sharding: 'S(dp)R' });
        b.compute('MatMulGradA', `/layer${l}/MatMul_grad_a`, [`dh${l}`, w(l)], [`dh${l - 1}`]);
      }
      b.collective({ op: 'all-reduce' }, { input: `dW${l}`, output: `gW${l}`, group: world, value: `${w(l)}.grad`, consumer: `update/${w(l)}`, sharding: 'R' });
    }
    for (let l = 1; l <= o.layers; l++) b.update('adam', w(l), `gW${l}`, [`m${l}`, `v${l}`]);
    return b.output('loss').build();
  });
  return { schedule: { kind: 'none', stages: 1, microbatches: 1 }, programs };
}

export interface MeshOptions {
  readonly rows: number;
  readonly width: number;
  readonly hidden: number;
}

/**
 * A Megatron MLP on a 2 x 2 mesh (dp, tp): device d = 2 * dpIndex + tpIndex, so rows
 * [0,1], [2,3] are tp groups and columns [0,2], [1,3] dp groups. W1 is column-sharded,
 * W2 row-sharded (an all-reduce over tp after W2); W2's gradient is all-reduced over
 * dp, W1's is reduce-scattered over dp (ZeRO style), updated as a shard and gathered.
 * A broadcast of the seed and an all-to-all over tp cover the other kinds.
 */
export function mesh2x2Set(o: MeshOptions = { rows: 4, width: 8, hidden: 16 }): ProgramSet {
  const mesh: MeshInfo = { shape: [2, 2], axes: ['dp', 'tp'], devices: [0, 1, 2, 3] };
  const h2 = o.hidden / 2;
  const programs = mesh.devices.map((d) => {
    const dp = Math.floor(d / 2);
    const tp = d % 2;
    const tpGroup = [2 * dp, 2 * dp + 1];
    const dpGroup = [tp, tp + 2];
    const b = new ProgramBuilder(d, 0, mesh);
    b.tensor('seed', [1], { dtype: 'int32' });
    b.input('seed', 'seed');
    b.collective({ op: 'broadcast', root: dpGroup[0]! }, { input: 'seed', output: 'seed.b', group: dpGroup, value: 'seed', consumer: '/dropout' });
    b.tensor('W1', [o.width, h2], { sharding: 'RS(tp)' }).tensor('W2', [h2, o.width], { sharding: 'S(tp)R' });
    b.load('W1', 'weights/W1.bin', tp * o.width * h2 * 4).load('W2', 'weights/W2.bin', tp * h2 * o.width * 4);
    b.tensor('x', [o.rows, o.width], { sharding: 'S(dp)R' }).tensor('y', [o.rows, o.width], { sharding: 'S(dp)R' });
    b.input('x', 'x').input('y', 'y');
    b.tensor('a', [o.rows, h2], { sharding: 'S(dp)S(tp)' }).tensor('z', [o.rows, h2], { sharding: 'S(dp)S(tp)' });
    b.compute('MatMul', '/fc1/MatMul', ['x', 'W1'], ['a']);
    b.compute('Relu', '/act/Relu', ['a'], ['z']);
    b.collective({ op: 'all-to-all', splitAxis: 0, concatAxis: 1 }, { input: 'z', output: 'z.t', group: tpGroup, value: 'z', consumer: '/stats', sharding: 'S(dp,tp)R' });
    b.tensor('stats', [Math.floor(o.rows / 2)], { sharding: 'S(dp,tp)' });
    b.compute('ReduceMean', '/stats', ['z.t'], ['stats'], { axes: [1], keepdims: 0 });
    b.tensor('yp', [o.rows, o.width], { sharding: 'S(dp)R partial(tp)' });
    b.compute('MatMul', '/fc2/MatMul', ['z', 'W2'], ['yp']);
    b.collective({ op: 'all-reduce' }, { input: 'yp', output: 'out', group: tpGroup, value: '/fc2/MatMul_output_0', consumer: '/loss', sharding: 'S(dp)R' });
    b.tensor('loss', [], { sharding: 'partial(dp)' }).tensor('dy', [o.rows, o.width], { sharding: 'S(dp)R' });
    b.compute('MseLoss', '/loss', ['out', 'y'], ['loss']).compute('MseLossGrad', '/loss_grad', ['out', 'y'], ['dy']);
    b.tensor('dW2', [h2, o.width], { source: 'W2.grad', sharding: 'S(tp)R partial(dp)' });
    b.tensor('dz', [o.rows, h2], { sharding: 'S(dp)S(tp)' }).tensor('da', [o.rows, h2], { sharding: 'S(dp)S(tp)' });
    b.tensor('dW1', [o.width, h2], { source: 'W1.grad', sharding: 'RS(tp) partial(dp)' });
    b.tensor('dxp', [o.rows, o.width], { source: 'x.grad', sharding: 'S(dp)R partial(tp)' });
    b.compute('MatMulGradB', '/fc2/MatMul_grad_b', ['z', 'dy'], ['dW2']);
    b.compute('MatMulGradA', '/fc2/MatMul_grad_a', ['dy', 'W2'], ['dz']);
    b.compute('ReluGrad', '/act/Relu_grad', ['dz', 'a'], ['da']);
    b.compute('MatMulGradB', '/fc1/MatMul_grad_b', ['x', 'da'], ['dW1']);
    b.compute('MatMulGradA', '/fc1/MatMul_grad_a', ['da', 'W1'], ['dxp']);
    b.collective({ op: 'all-reduce' }, { input: 'dxp', output: 'dx', group: tpGroup, value: 'x.grad', consumer: 'output', sharding: 'S(dp)R' });
    b.collective({ op: 'all-reduce' }, { input: 'dW2', output: 'gW2', group: dpGroup, value: 'W2.grad', consumer: 'update/W2', sharding: 'S(tp)R' });
    b.update('sgd', 'W2', 'gW2');
    b.collective({ op: 'reduce-scatter', axis: 0 }, { input: 'dW1', output: 'gW1', group: dpGroup, value: 'W1.grad', consumer: 'update/W1', sharding: 'S(dp)S(tp)' });
    b.tensor('W1s', [o.width / 2, h2], { source: 'W1', sharding: 'S(dp)S(tp)' });
    b.compute('Slice', '/zero/W1_shard', ['W1'], ['W1s'], { axis: 0, start: dp * (o.width / 2), size: o.width / 2 });
    b.update('sgd', 'W1s', 'gW1');
    b.collective({ op: 'all-gather', axis: 0 }, { input: 'W1s', output: 'W1.next', group: dpGroup, value: 'W1', consumer: 'next-step', sharding: 'RS(tp)' });
    return b.output('loss').output('dx').output('W1.next').output('stats').output('seed.b').build();
  });
  return { schedule: { kind: 'none', stages: 1, microbatches: 1 }, programs };
}

export interface PipelineOptions {
  readonly schedule: ScheduleKind;
  readonly stages: number;
  readonly microbatches: number;
  /** Data-parallel replicas inside each stage (gradients all-reduced before the update). */
  readonly dp: number;
  readonly rows: number;
  readonly width: number;
  /** Keep passes/schedule's send-then-receive order (deadlocks under synchronous sends). */
  readonly scheduleOrder?: boolean;
}

/**
 * One weight per stage; stage s replica r is device s * dp + r. The instruction order
 * is passes/schedule's program for the stage, with exchanges ordered receive-first on
 * the later stage (exchange.ts); activations go on tag 2 mb, gradients on 2 mb + 1,
 * between the same replica of neighbouring stages.
 */
export function pipelineSet(o: PipelineOptions): ProgramSet {
  const schedule = buildSchedule(o.schedule, o.stages, o.microbatches);
  const dev = (s: number, r: number): number => s * o.dp + r;
  const programs = range(o.stages).flatMap((s) =>
    range(o.dp).map((r) => {
      const mesh: MeshInfo = { shape: [o.dp], axes: ['dp'], devices: range(o.dp).map((q) => dev(s, q)) };
      const b = new ProgramBuilder(dev(s, r), s, mesh);
      const last = s === o.stages - 1;
      const shape = [o.rows, o.width];
      b.tensor('W', [o.width, o.width], { source: `W${s}` }).tensor('acc', [o.width, o.width], { source: `W${s}.grad`, init: 'zeros' });
      b.load('W', `weights/W${s}.bin`);
      const inOf = (mb: number): string => (s === 0 ? `x@${mb}` : `a@${mb}`);
      for (const ins of schedule.programs[s]!) {
        switch (ins.kind) {
          case 'recv-activation':
            b.tensor(`a@${ins.mb}`, shape, { source: `act${s - 1}` });
            b.recv(dev(ins.from, r), 2 * ins.mb, `a@${ins.mb}`, `act${ins.from}->${s}@${ins.mb}`, ins.mb);
            break;
          case 'forward': {
            const mb = ins.mb;
            if (s === 0) b.tensor(`x@${mb}`, shape, { source: 'x' }).input(`x@${mb}`, 'x', mb);
            b.tensor(`h@${mb}`, shape, { source: `act${s}` });
            b.compute('MatMul', `/stage${s}/MatMul`, [inOf(mb), 'W'], [`h@${mb}`], {}, mb);
            if (last) {
              b.tensor(`y@${mb}`, shape, { source: 'y' }).input(`y@${mb}`, 'y', mb);
              b.tensor(`loss@${mb}`, [], { source: 'loss' }).tensor(`dh@${mb}`, shape, { source: `act${s}.grad` });
              b.compute('MseLoss', '/loss', [`h@${mb}`, `y@${mb}`], [`loss@${mb}`], {}, mb);
              b.compute('MseLossGrad', '/loss_grad', [`h@${mb}`, `y@${mb}`], [`dh@${mb}`], {}, mb);
              b.output(`loss@${mb}`);
            }
            break;
          }
          case 'send-activation':
            b.send(dev(ins.to, r), 2 * ins.mb, `h@${ins.mb}`, `act${s}->${ins.to}@${ins.mb}`, ins.mb);
            break;
          case 'recv-gradient':
            b.tensor(`dh@${ins.mb}`, shape, { source: `act${s}.grad` });
            b.recv(dev(ins.from, r), 2 * ins.mb + 1, `dh@${ins.mb}`, `grad${ins.from}->${s}@${ins.mb}`, ins.mb);
            break;
          case 'backward': {
            const mb = ins.mb;
            b.tensor(`dW@${mb}`, [o.width, o.width], { source: `W${s}.grad` });
            b.compute('MatMulGradB', `/stage${s}/MatMul_grad_b`, [inOf(mb), `dh@${mb}`], [`dW@${mb}`], {}, mb);
            if (s > 0) {
              b.tensor(`da@${mb}`, shape, { source: `act${s - 1}.grad` });
              b.compute('MatMulGradA', `/stage${s}/MatMul_grad_a`, [`dh@${mb}`, 'W'], [`da@${mb}`], {}, mb);
            }
            break;
          }
          case 'send-gradient':
            b.send(dev(ins.to, r), 2 * ins.mb + 1, `da@${ins.mb}`, `grad${s}->${ins.to}@${ins.mb}`, ins.mb);
            break;
          case 'accumulate':
            b.accumulate('acc', `dW@${ins.mb}`, ins.mb);
            break;
          case 'update':
            if (o.dp > 1) {
              b.collective({ op: 'all-reduce' }, { input: 'acc', output: 'g', group: mesh.devices, value: `W${s}.grad`, consumer: `update/W${s}` });
              b.update('sgd', 'W', 'g', [], `update/W${s}`);
            } else b.update('sgd', 'W', 'acc', [], `update/W${s}`);
            break;
          default: {
            const _: never = ins;
            return _;
          }
        }
      }
      return b.build();
    }),
  );
  const set: ProgramSet = { schedule: { kind: o.schedule, stages: o.stages, microbatches: o.microbatches }, programs };
  // passes/schedule assumes buffered sends; the runtime's may be synchronous.
  return o.scheduleOrder ? set : receiveFirst(set);
}
