/**
 * Named shapes for `autopar examples --preset`: GPT-3's table 2.1 (Brown et al. 2020;
 * 13B's d_model 5140 rounded to 5120 so that 40 heads divide it; 1.3B's 24 heads of 128
 * do not make its d_model 2048, so 16 heads of 128), BERT base/large and
 * torchvision's wide ResNets. `nominal` is the size the name claims, for checks.
 */
export type Arch = 'gpt' | 'bert' | 'wide-resnet' | 'moe';

export const ARCHS: readonly Arch[] = ['gpt', 'bert', 'wide-resnet', 'moe'];

export interface PresetShape {
  readonly layers?: number;
  readonly hidden?: number;
  readonly heads?: number;
  readonly seq?: number;
  readonly vocab?: number;
  readonly widen?: number;
  readonly experts?: number;
}

export interface Preset {
  readonly arch: Arch;
  readonly nominal: number;
  readonly shape: PresetShape;
}

const gpt3 = (layers: number, hidden: number, heads: number, nominal: number): Preset => ({
  arch: 'gpt',
  nominal,
  shape: { layers, hidden, heads, seq: 2048, vocab: 50257 },
});

export const PRESETS: Readonly<Record<string, Preset>> = {
  'gpt3-125m': gpt3(12, 768, 12, 125e6),
  'gpt3-350m': gpt3(24, 1024, 16, 350e6),
  'gpt3-760m': gpt3(24, 1536, 16, 760e6),
  'gpt3-1.3b': gpt3(24, 2048, 16, 1.3e9),
  'gpt3-2.7b': gpt3(32, 2560, 32, 2.7e9),
  'gpt3-6.7b': gpt3(32, 4096, 32, 6.7e9),
  'gpt3-13b': gpt3(40, 5120, 40, 13e9),
  'gpt3-175b': gpt3(96, 12288, 96, 175e9),
  'bert-base': { arch: 'bert', nominal: 110e6, shape: { layers: 12, hidden: 768, heads: 12, seq: 512, vocab: 30522 } },
  'bert-large': { arch: 'bert', nominal: 340e6, shape: { layers: 24, hidden: 1024, heads: 16, seq: 512, vocab: 30522 } },
  'wide-resnet50-2': { arch: 'wide-resnet', nominal: 68.9e6, shape: { layers: 50, widen: 2 } },
  'wide-resnet101-2': { arch: 'wide-resnet', nominal: 126.9e6, shape: { layers: 101, widen: 2 } },
};

export function presetNames(arch?: Arch): string[] {
  return Object.entries(PRESETS)
    .filter(([, p]) => arch === undefined || p.arch === arch || (arch === 'moe' && p.arch === 'gpt'))
    .map(([n]) => n);
}
