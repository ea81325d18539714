/**
 * The graph IR. Everything is readonly: passes build new graphs instead of mutating,
 * so a graph handed to the planner can be shared and cached safely.
 */
import type { DType } from './dtype.js';
import type { HostTensor } from './host-tensor.js';

/** A dimension: a number once known, a name (`batch`) while symbolic. */
export type Dim = number | string;

export interface TensorType {
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

/** Weights that live in a file beside the model; read only when executing. */
export interface ExternalData {
  readonly kind: 'external';
  /** Path as written in the model (relative to the model's folder). */
  readonly location: string;
  /** Absolute path resolved at import. */
  readonly path: string;
  readonly offset: number;
  readonly length: number | undefined;
}

/** Zeros of the initializer's type, allocated only when executed (optimizer states). */
export interface ZerosData {
  readonly kind: 'zeros';
}

/** A block of another initializer along one axis (a fused weight split by a rewrite). */
export interface SliceData {
  readonly kind: 'slice';
  readonly source: Initializer;
  readonly axis: number;
  readonly start: number;
}

export interface Initializer {
  readonly name: string;
  readonly type: TensorType;
  readonly data: HostTensor | ExternalData | ZerosData | SliceData;
}

export type AttrValue =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'strings'; readonly value: readonly string[] }
  | { readonly kind: 'tensor'; readonly value: HostTensor }
  | { readonly kind: 'graph'; readonly value: string };

export interface Node {
  /** Unique within the graph; the ONNX node name where it had one. */
  readonly name: string;
  readonly op: string;
  readonly domain: string;
  /** Value names; '' is an omitted optional input (ONNX convention). */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: ReadonlyMap<string, AttrValue>;
}

export interface GraphInput {
  readonly name: string;
  readonly type: TensorType;
}

export interface Graph {
  readonly name: string;
  /** Opset of the default ONNX domain. */
  readonly opset: number;
  readonly inputs: readonly GraphInput[];
  readonly outputs: readonly string[];
  /** The model's own initializers: parameters and buffers (candidates for training). */
  readonly initializers: ReadonlyMap<string, Initializer>;
  /** Constants that are not parameters: `Constant` nodes and folded shape arithmetic. */
  readonly constants: ReadonlyMap<string, HostTensor>;
  /** Topologically ordered. */
  readonly nodes: readonly Node[];
  /** Type of every value: inputs, initializers and node outputs. */
  readonly types: ReadonlyMap<string, TensorType>;
  /** Where the model came from, for error messages. */
  readonly source: string;
}

export function isExternal(d: Initializer['data']): d is ExternalData {
  return 'kind' in d && d.kind === 'external';
}

/** Host data of an initializer if it is held inline (not external, not lazily zero). */
export function inlineData(d: Initializer['data']): HostTensor | undefined {
  return 'kind' in d ? undefined : d;
}
