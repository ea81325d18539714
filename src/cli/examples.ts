/** `autopar examples gpt|bert|wide-resnet|moe [shape flags] [--weights [SEED]] -o FILE.onnx` */
import type { Command } from 'commander';
import { AutoparError } from '../errors.js';
import { type ExampleOptions, generateExample, parseArch } from '../examples/generate.js';
import { type Arch, PRESETS } from '../examples/presets.js';
import { printJson, runCommand } from './output.js';

interface Flags {
  out: string;
  preset?: string;
  layers?: string;
  hidden?: string;
  heads?: string;
  seq?: string;
  vocab?: string;
  ffn?: string;
  batch?: string;
  experts?: string;
  topK?: string;
  capacityFactor?: string;
  moeEvery?: string;
  widen?: string;
  channels?: string;
  image?: string;
  classes?: string;
  batchnorm?: boolean;
  weights?: string | boolean;
  json?: boolean;
  debug?: boolean;
}

/** Which architectures each shape flag means something for. */
const APPLIES: Readonly<Partial<Record<keyof Flags, readonly Arch[]>>> = {
  heads: ['gpt', 'bert', 'moe'],
  hidden: ['gpt', 'bert', 'moe'],
  seq: ['gpt', 'bert', 'moe'],
  vocab: ['gpt', 'bert', 'moe'],
  ffn: ['gpt', 'bert', 'moe'],
  experts: ['moe'],
  topK: ['moe'],
  capacityFactor: ['moe'],
  moeEvery: ['moe'],
  widen: ['wide-resnet'],
  channels: ['wide-resnet'],
  image: ['wide-resnet'],
  classes: ['wide-resnet'],
  batchnorm: ['wide-resnet'],
};

const flagName = (k: string): string => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new AutoparError('E_USAGE', `${flag} expects a positive integer, got '${v}'`);
  return n;
}

function positiveNumber(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new AutoparError('E_USAGE', `${flag} expects a positive number, got '${v}' (e.g. ${flag} 1.25)`);
  return n;
}

function batchDim(v: string | undefined): number | string | undefined {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return positiveInt('--batch', v);
  if (/^[A-Za-z_][\w]*$/.test(v)) return v;
  throw new AutoparError('E_USAGE', `--batch expects a size (e.g. 8) or a symbolic dimension name (e.g. batch), got '${v}'`);
}

function seedOf(v: string | boolean | undefined): number | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return 0;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new AutoparError('E_USAGE', `--weights takes an optional seed, a non-negative integer; got '${v}' (e.g. --weights 1)`);
  return n;
}

function toOptions(arch: Arch, f: Flags): ExampleOptions {
  for (const [k, archs] of Object.entries(APPLIES)) {
    if (f[k as keyof Flags] !== undefined && archs && !archs.includes(arch)) {
      throw new AutoparError('E_USAGE', `${flagName(k)} does not apply to ${arch}; it is for ${archs.join(', ')}`);
    }
  }
  return {
    preset: f.preset,
    layers: positiveInt('--layers', f.layers),
    hidden: positiveInt('--hidden', f.hidden),
    heads: positiveInt('--heads', f.heads),
    seq: positiveInt('--seq', f.seq),
    vocab: positiveInt('--vocab', f.vocab),
    ffn: positiveInt('--ffn', f.ffn),
    batch: batchDim(f.batch),
    experts: positiveInt('--experts', f.experts),
    topK: positiveInt('--top-k', f.topK),
    capacityFactor: positiveNumber('--capacity-factor', f.capacityFactor),
    moeEvery: positiveInt('--moe-every', f.moeEvery),
    widen: positiveInt('--widen', f.widen),
    channels: positiveInt('--channels', f.channels),
    image: positiveInt('--image', f.image),
    classes: positiveInt('--classes', f.classes),
    batchNorm: f.batchnorm,
    seed: seedOf(f.weights),
  };
}

export function registerExamples(program: Command): void {
  program
    .command('examples')
    .description('write an example model (GPT, BERT, Wide-ResNet, MoE) as an ONNX graph, weights as external data (not written unless --weights)')
    .argument('<arch>', 'gpt, bert, wide-resnet or moe')
    .requiredOption('-o, --out <file>', 'the .onnx file to write (weights file beside it: NAME.weights.bin)')
    .option('--preset <name>', `a named shape: ${Object.keys(PRESETS).join(', ')} (moe takes the gpt3 ones)`)
    .option('--layers <N>', 'transformer blocks, or the ResNet depth (14, 26, 50, 101, 152)')
    .option('--hidden <H>', 'model width (default 128)')
    .option('--heads <A>', 'attention heads (default 4)')
    .option('--seq <S>', 'sequence length (default 64)')
    .option('--vocab <V>', 'vocabulary size (default 512)')
    .option('--ffn <F>', 'feed-forward width (default 4 x hidden)')
    .option('--batch <B|name>', "batch dimension: a size, or a symbolic name (default 'batch')")
    .option('--experts <E>', 'moe: experts per MoE layer (default 8)')
    .option('--top-k <K>', 'moe: experts per token (default 2)')
    .option('--capacity-factor <C>', 'moe: expert capacity factor (default 1.25)')
    .option('--moe-every <N>', 'moe: every N-th block is a mixture (default 2)')
    .option('--widen <K>', 'wide-resnet: widen factor (default 2)')
    .option('--channels <C>', 'wide-resnet: stem channels (default 64)')
    .option('--image <P>', 'wide-resnet: image size (default 224)')
    .option('--classes <N>', 'wide-resnet: classes (default 1000)')
    .option('--batchnorm', 'wide-resnet: keep BatchNormalization nodes (default: folded into Conv, as an eval-mode export)')
    .option('--weights [seed]', 'also write seeded random weights into the external data file (small models)')
    .option('--json', 'machine-readable output (CLI.md)')
    .option('--debug', 'stack traces on errors')
    .action(async (archName: string, f: Flags) => {
      await runCommand(f.debug === true, async () => {
        const arch = parseArch(archName);
        const r = generateExample(arch, toOptions(arch, f), f.out);
        if (f.json) return printJson(r);
        const weights = r.weightsWritten ? `written: ${r.weightsFile} (${r.weightsBytes.toLocaleString('en-US')} bytes)` : `referenced, not written: ${r.weightsFile}`;
        process.stdout.write(
          [
            `model       ${r.file} (${arch}${r.preset ? `, ${r.preset}` : ''}; ${r.nodes} nodes, ${r.modelBytes.toLocaleString('en-US')} bytes)`,
            `parameters  ${r.parameters.toLocaleString('en-US')}`,
            `weights     ${weights}`,
          ].join('\n') + '\n',
        );
      });
    });
}
