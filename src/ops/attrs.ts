/** Typed access to a node's attributes, with defaults and errors that name the node. */
import { AutoparError } from '../errors.js';
import type { HostTensor } from '../ir/host-tensor.js';
import type { AttrValue, Node } from '../ir/types.js';

export class AttrReader {
  constructor(
    readonly node: Node,
    readonly opset: number,
  ) {}

  private get(name: string, kind: AttrValue['kind']): AttrValue | undefined {
    const a = this.node.attrs.get(name);
    if (a === undefined) return undefined;
    if (a.kind !== kind) {
      throw new AutoparError('E_GRAPH', `node '${this.node.name}' (${this.node.op}): attribute '${name}' should be ${kind}, got ${a.kind}`);
    }
    return a;
  }

  private missing(name: string): never {
    throw new AutoparError('E_GRAPH', `node '${this.node.name}' (${this.node.op}): required attribute '${name}' is missing`);
  }

  has(name: string): boolean {
    return this.node.attrs.has(name);
  }

  int(name: string, fallback: number): number {
    const a = this.get(name, 'int');
    return a?.kind === 'int' ? a.value : fallback;
  }

  intOpt(name: string): number | undefined {
    const a = this.get(name, 'int');
    return a?.kind === 'int' ? a.value : undefined;
  }

  float(name: string, fallback: number): number {
    const a = this.get(name, 'float');
    return a?.kind === 'float' ? a.value : fallback;
  }

  string(name: string, fallback: string): string {
    const a = this.get(name, 'string');
    return a?.kind === 'string' ? a.value : fallback;
  }

  requiredString(name: string): string {
    const a = this.get(name, 'string');
    return a?.kind === 'string' ? a.value : this.missing(name);
  }

  ints(name: string): readonly number[] | undefined {
    const a = this.get(name, 'ints');
    return a?.kind === 'ints' ? a.value : undefined;
  }

  floats(name: string): readonly number[] | undefined {
    const a = this.get(name, 'floats');
    return a?.kind === 'floats' ? a.value : undefined;
  }

  tensor(name: string): HostTensor | undefined {
    const a = this.get(name, 'tensor');
    return a?.kind === 'tensor' ? a.value : undefined;
  }

  /** Rejects attributes that change semantics in ways autopar does not implement. */
  unsupported(name: string, why: string): void {
    if (this.node.attrs.has(name)) {
      throw new AutoparError('E_UNSUPPORTED_OP', `node '${this.node.name}' (${this.node.op}): attribute '${name}' is not supported: ${why}`);
    }
  }
}
