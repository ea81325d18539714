/**
 * `autopar examples`: resolves an architecture, a preset and flag overrides into one
 * model configuration, checks it (each bad value names its flag and what would work),
 * and writes the ONNX graph with its weights referenced, or written when asked.
 */
import path from 'node:path';
import { AutoparError } from '../errors.js';
import { type BertConfig, bertParameters, writeBert } from './bert.js';
import { type GptConfig, gptParameters, writeGpt } from './gpt.js';
import { type MoeConfig, moeCapacity, moeParameters, writeMoe } from './moe.js';
import { OnnxWriter, type SaveResult, save, weightsFileFor } from './onnx-writer.js';
import { type Arch, ARCHS, PRESETS, presetNames } from './presets.js';
import { RESNET_BLOCKS, type WideResnetConfig, writeWideResnet } from './wide-resnet.js';

export interface ExampleOptions {
  readonly preset?: string;
  readonly layers?: number;
  readonly hidden?: number;
  readonly heads?: number;
  readonly seq?: number;
  readonly vocab?: number;
  readonly ffn?: number;
  /** A fixed batch size or a symbolic dimension's name (default 'batch'). */
  readonly batch?: number | string;
  readonly experts?: number;
  readonly topK?: number;
  readonly capacityFactor?: number;
  readonly moeEvery?: number;
  readonly widen?: number;
  readonly channels?: number;
  readonly image?: number;
  readonly classes?: number;
  readonly batchNorm?: boolean;
  /** Write seeded random weights (graph only when absent). */
  readonly seed?: number;
}

export type ExampleConfig =
  | { readonly arch: 'gpt'; readonly config: GptConfig }
  | { readonly arch: 'moe'; readonly config: MoeConfig }
  | { readonly arch: 'bert'; readonly config: BertConfig }
  | { readonly arch: 'wide-resnet'; readonly config: WideResnetConfig };

export interface ExampleResult extends SaveResult {
  readonly arch: Arch;
  readonly preset: string | null;
  readonly parameters: number;
  readonly nodes: number;
  readonly config: ExampleConfig['config'];
}

/** --weights is for models a test can run: beyond this the file would be written for nothing. */
export const MAX_WEIGHT_BYTES = 2 ** 31;

const usage = (message: string): AutoparError => new AutoparError('E_USAGE', message);

export function parseArch(name: string): Arch {
  const arch = ARCHS.find((a) => a === name);
  if (!arch) throw usage(`unknown architecture '${name}'; expected one of: ${ARCHS.join(', ')}`);
  return arch;
}

function divisible(hidden: number, heads: number): void {
  if (hidden % heads === 0) return;
  // The divisors of hidden nearest the heads asked for.
  const near = Array.from({ length: Math.min(hidden, 4 * heads) }, (_, i) => i + 1)
    .filter((d) => hidden % d === 0)
    .sort((a, b) => Math.abs(a - heads) - Math.abs(b - heads))
    .slice(0, 2)
    .sort((a, b) => a - b);
  throw usage(`--hidden ${hidden} is not divisible by --heads ${heads}; use --heads ${near.join(' or ')}, or a --hidden that is a multiple of ${heads}`);
}

/** The configuration `generateExample` writes: defaults < preset < flags. */
export function resolveExample(arch: Arch, o: ExampleOptions): ExampleConfig {
  const preset = o.preset === undefined ? undefined : PRESETS[o.preset];
  if (o.preset !== undefined && !preset) throw usage(`--preset '${o.preset}' is unknown; presets for ${arch}: ${presetNames(arch).join(', ')}`);
  if (preset && preset.arch !== arch && !(arch === 'moe' && preset.arch === 'gpt')) {
    throw usage(`--preset ${o.preset} is a ${preset.arch} shape, not ${arch}; presets for ${arch}: ${presetNames(arch).join(', ')}`);
  }
  const p = preset?.shape ?? {};
  const batch = o.batch ?? 'batch';
  switch (arch) {
    case 'gpt':
    case 'moe':
    case 'bert': {
      // Tiny defaults (gpt2_tiny's shape): runnable with --weights in a test.
      const hidden = o.hidden ?? p.hidden ?? 128;
      const heads = o.heads ?? p.heads ?? 4;
      divisible(hidden, heads);
      const base = { layers: o.layers ?? p.layers ?? 2, hidden, heads, seq: o.seq ?? p.seq ?? 64, vocab: o.vocab ?? p.vocab ?? 512, ffn: o.ffn ?? 4 * hidden, batch };
      if (arch === 'gpt') return { arch, config: base };
      if (arch === 'bert') return { arch, config: base };
      const experts = o.experts ?? p.experts ?? 8;
      const topK = o.topK ?? 2;
      if (topK > experts) throw usage(`--top-k ${topK} exceeds --experts ${experts}; use --top-k between 1 and ${experts}`);
      const capacityFactor = o.capacityFactor ?? 1.25;
      if (!(capacityFactor > 0)) throw usage(`--capacity-factor must be positive, got ${capacityFactor} (1.0 to 2.0 is usual)`);
      return { arch, config: { ...base, experts, topK, capacityFactor, every: o.moeEvery ?? 2 } };
    }
    case 'wide-resnet': {
      const depth = o.layers ?? p.layers ?? 50;
      if (!RESNET_BLOCKS[depth]) throw usage(`--layers ${depth} is not a bottleneck ResNet depth; use one of ${Object.keys(RESNET_BLOCKS).join(', ')}`);
      const image = o.image ?? 224;
      if (image < 32) throw usage(`--image ${image} is too small for five stride-2 stages; use --image 32 or more`);
      return {
        arch,
        config: { depth, widen: o.widen ?? p.widen ?? 2, channels: o.channels ?? 64, image, classes: o.classes ?? 1000, batchNorm: o.batchNorm ?? false, batch },
      };
    }
  }
}

function graphName(e: ExampleConfig): string {
  switch (e.arch) {
    case 'gpt':
      return `gpt_${e.config.layers}x${e.config.hidden}`;
    case 'moe':
      return `moe_${e.config.layers}x${e.config.hidden}_e${e.config.experts}k${e.config.topK}`;
    case 'bert':
      return `bert_${e.config.layers}x${e.config.hidden}`;
    case 'wide-resnet':
      return `wide_resnet${e.config.depth}_${e.config.widen}`;
  }
}

/** The parameter count a configuration has (what `autopar inspect` reports for it). */
export function exampleParameters(e: ExampleConfig): number | undefined {
  switch (e.arch) {
    case 'gpt':
      return gptParameters(e.config);
    case 'moe':
      return moeParameters(e.config);
    case 'bert':
      return bertParameters(e.config);
    case 'wide-resnet':
      return undefined; // counted from the written graph
  }
}

function write(w: OnnxWriter, e: ExampleConfig): void {
  switch (e.arch) {
    case 'gpt':
      return writeGpt(w, e.config);
    case 'moe':
      return writeMoe(w, e.config);
    case 'bert':
      return writeBert(w, e.config);
    case 'wide-resnet':
      return writeWideResnet(w, e.config);
  }
}

export function generateExample(arch: Arch, o: ExampleOptions, file: string): ExampleResult {
  if (!/\.onnx$/i.test(file)) throw usage(`-o ${file}: the output must be an .onnx file (e.g. -o ${arch}.onnx)`);
  const e = resolveExample(arch, o);
  const w = new OnnxWriter(17, weightsFileFor(file));
  write(w, e);
  const { count, bytes } = w.parameters();
  if (o.seed !== undefined && bytes > MAX_WEIGHT_BYTES) {
    throw usage(
      `--weights would write ${(bytes / 2 ** 30).toFixed(1)} GiB for this ${arch} (${count.toLocaleString('en-US')} parameters); it is meant for small models (at most ${MAX_WEIGHT_BYTES / 2 ** 30} GiB): drop --weights for a graph-only model or lower --layers/--hidden`,
    );
  }
  const moeNote = e.arch === 'moe' ? `, ${e.config.experts} experts, top-${e.config.topK}, capacity ${moeCapacity(e.config)}` : '';
  const doc = `autopar examples ${arch}${o.preset ? ` --preset ${o.preset}` : ''}: ${JSON.stringify(e.config)}${moeNote}`;
  const saved = save(w, path.resolve(file), { seed: o.seed, graphName: graphName(e), docString: doc });
  return { ...saved, file, arch, preset: o.preset ?? null, parameters: count, nodes: w.nodeCount(), config: e.config };
}
