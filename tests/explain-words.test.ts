/** The words explain and the report use for a layout, on layouts written by hand. */
import { describe, expect, it } from 'vitest';
import { modulePath } from '../src/explain/layers.js';
import { activationWords, optimizerWords, patternSummary, weightWords } from '../src/explain/words.js';

const spec = (dims: string[][], partial: string[] = []): { dims: string[][]; partial: string[] } => ({ dims, partial });

describe('explain words', () => {
  it('reads the parallelism from the weight and its output together', () => {
    // MatMul [K, N] weight: split on N with the output split on features is column-parallel.
    expect(patternSummary('MatMul', spec([[], ['y']]), spec([['x'], [], ['y']]))).toBe('column-parallel over y, data-parallel over x');
    expect(weightWords('fc1.weight', 'MatMul', spec([[], ['y']]), spec([[], [], ['y']]))).toBe('fc1.weight split on dim 1 over axis y: Megatron column-parallel (output features split, the output stays split)');
    // Split on K: the output is a partial sum: row-parallel.
    expect(patternSummary('MatMul', spec([['y'], []]), spec([[], [], []], ['y']))).toBe('row-parallel over y');
    // Sharded weight with a batch-split output: gathered for use, ZeRO-3 / FSDP.
    expect(patternSummary('MatMul', spec([['x'], []]), spec([['x'], [], []]))).toBe('zero3 over x');
    expect(weightWords('w', 'MatMul', spec([['x'], []]), spec([['x'], [], []]))).toMatch(/ZeRO-3 \/ FSDP-like data parallel over x/);
    // An embedding split by rows: vocabulary-parallel.
    expect(patternSummary('Gather', spec([['x'], []]), spec([[], [], []], ['x']))).toBe('vocab-parallel over x');
    expect(weightWords('wte.weight', 'Gather', spec([['x'], []]), spec([[], [], []], ['x']))).toMatch(/^wte\.weight split on dim 0 over axis x: vocabulary-parallel embedding/);
    // Split by its columns (the hidden size), an embedding's output is split on its features.
    expect(patternSummary('Gather', spec([[], ['x']]), spec([[], [], ['x']]))).toBe('column-parallel over x');
    expect(weightWords('w', 'MatMul', spec([[], []]), spec([[], [], []]))).toBe('w replicated (every device computes the whole op)');
    expect(weightWords('b', 'Add', spec([['x']]), undefined)).toBe('b split on dim 0 over axis x');
  });

  it('says what an activation and the optimizer states hold', () => {
    expect(activationWords(spec([['x'], [], ['y']]))).toBe('batch split over x, features split over y');
    expect(activationWords(spec([[], []], ['x', 'y']))).toBe('partial sums over x*y (reduced later)');
    expect(activationWords(spec([[], []]))).toBe('replicated');
    expect(optimizerWords(spec([[], []]), spec([['x'], []]))).toBe('optimizer states [x, -]: sharded over x where the weight is not (ZeRO-1/2-like sharded optimizer state)');
    expect(optimizerWords(spec([['x'], []]), spec([['x'], []]))).toBe('optimizer states [x, -], split like the weight');
    expect(optimizerWords(spec([[]]), null)).toMatch(/^no optimizer state/);
  });

  it("names a layer by its op's module path", () => {
    expect(modulePath('/blocks.0/fc/MatMul')).toBe('blocks.0.fc');
    expect(modulePath('/blocks.0/qkv/MatMul.part1')).toBe('blocks.0.qkv.part1');
    expect(modulePath('/Add')).toBeUndefined();
    expect(modulePath('Gemm_9')).toBeUndefined();
  });
});
