/**
 * Wide ResNet (torchvision's wide_resnet50_2 family: bottleneck blocks whose inner width
 * is `widen` times ResNet's) as torch.onnx.export writes it. In eval mode the exporter
 * folds each BatchNorm into the Conv before it (Conv with a bias, as in the resnet18
 * fixture); `batchNorm: true` keeps them as BatchNormalization nodes with their running
 * statistics, the form of an export without constant folding. Then global average
 * pooling, Flatten and the classifier as Gemm (transB = 1).
 */
import type { Dim, OnnxWriter } from './onnx-writer.js';

export interface WideResnetConfig {
  /** 14, 26, 50, 101 or 152 (3 convolutions per bottleneck block, plus stem and classifier). */
  readonly depth: number;
  readonly widen: number;
  /** Stem channels (64 in torchvision); stage s has `channels * 2^s` planes. */
  readonly channels: number;
  readonly image: number;
  readonly classes: number;
  readonly batchNorm: boolean;
  readonly batch: Dim;
}

export const RESNET_BLOCKS: Readonly<Record<number, readonly number[]>> = {
  14: [1, 1, 1, 1],
  26: [2, 2, 2, 2],
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
  152: [3, 8, 36, 3],
};

const EXPANSION = 4;

interface ConvSpec {
  readonly cin: number;
  readonly cout: number;
  readonly kernel: number;
  readonly stride: number;
  /** Scales the He initialisation (smaller for a residual branch's last conv keeps activations bounded). */
  readonly gain?: number;
}

/** Conv2d(bias=False) + BatchNorm2d, folded or not; module names as torchvision's (`conv1`/`bn1`). */
function convBn(w: OnnxWriter, x: string, conv: string, bn: string, s: ConvSpec, c: WideResnetConfig): string {
  const fanIn = s.cin * s.kernel * s.kernel;
  const weight = w.param(`${w.paramName(conv)}.weight`, [s.cout, s.cin, s.kernel, s.kernel], { normal: Math.sqrt(2 / fanIn) * (s.gain ?? 1) });
  const pad = Math.floor(s.kernel / 2);
  const attrs = { dilations: { ints: [1, 1] }, group: { int: 1 }, kernel_shape: { ints: [s.kernel, s.kernel] }, pads: { ints: [pad, pad, pad, pad] }, strides: { ints: [s.stride, s.stride] } };
  if (!c.batchNorm) return w.scope(conv, () => w.op('Conv', [x, weight, w.param(`${w.paramName('bias')}`, [s.cout], 'zeros')], attrs));
  const y = w.scope(conv, () => w.op('Conv', [x, weight], attrs));
  return w.scope(bn, () => {
    const p = (leaf: string, init: 'ones' | 'zeros'): string => w.param(w.paramName(leaf), [s.cout], init);
    return w.op('BatchNormalization', [y, p('weight', 'ones'), p('bias', 'zeros'), p('running_mean', 'zeros'), p('running_var', 'ones')], {
      epsilon: { float: 1e-5 },
      momentum: { float: 0.9 },
    });
  });
}

function bottleneck(w: OnnxWriter, x: string, cin: number, planes: number, stride: number, c: WideResnetConfig): string {
  const width = planes * c.widen;
  const cout = planes * EXPANSION;
  const relu = (y: string): string => w.op('Relu', [y]);
  let y = relu(convBn(w, x, 'conv1', 'bn1', { cin, cout: width, kernel: 1, stride: 1 }, c));
  y = relu(convBn(w, y, 'conv2', 'bn2', { cin: width, cout: width, kernel: 3, stride }, c));
  y = convBn(w, y, 'conv3', 'bn3', { cin: width, cout, kernel: 1, stride: 1, gain: 0.2 }, c);
  const identity = stride !== 1 || cin !== cout ? w.scope('downsample', () => convBn(w, x, '0', '1', { cin, cout, kernel: 1, stride }, c)) : x;
  return relu(w.op('Add', [y, identity]));
}

export function writeWideResnet(w: OnnxWriter, c: WideResnetConfig): void {
  const blocks = RESNET_BLOCKS[c.depth] ?? [];
  const input = w.input('input', 'float32', [c.batch, 3, c.image, c.image]);
  let x = w.op('Relu', [convBn(w, input, 'conv1', 'bn1', { cin: 3, cout: c.channels, kernel: 7, stride: 2 }, c)]);
  x = w.scope('maxpool', () => w.op('MaxPool', [x], { ceil_mode: { int: 0 }, kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] }, strides: { ints: [2, 2] } }));
  let cin = c.channels;
  blocks.forEach((n, stage) => {
    const planes = c.channels * 2 ** stage;
    for (let i = 0; i < n; i++) {
      x = w.scope(`layer${stage + 1}`, () => w.scope(String(i), () => bottleneck(w, x, cin, planes, i === 0 && stage > 0 ? 2 : 1, c)));
      cin = planes * EXPANSION;
    }
  });
  const pooled = w.scope('avgpool', () => w.op('GlobalAveragePool', [x]));
  const flat = w.op('Flatten', [pooled], { axis: { int: 1 } });
  const logits = w.scope('fc', () =>
    w.op('Gemm', [flat, w.param('fc.weight', [c.classes, cin], { normal: Math.sqrt(1 / cin) }), w.param('fc.bias', [c.classes], 'zeros')], {
      alpha: { float: 1 },
      beta: { float: 1 },
      transB: { int: 1 },
    }),
  );
  w.output(w.rename(logits, 'output'), 'float32', [c.batch, c.classes]);
}
