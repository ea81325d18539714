/**
 * One step of a pipeline stage's program. Stages are 0-based; activations flow from
 * stage s to s + 1, gradients from s + 1 back to s. Micro-batches are 0-based.
 * Sends and receives name their peer so a program can be checked on its own.
 */
export type Instruction =
  | { readonly kind: 'forward'; readonly mb: number }
  | { readonly kind: 'backward'; readonly mb: number }
  | { readonly kind: 'send-activation'; readonly mb: number; readonly to: number }
  | { readonly kind: 'recv-activation'; readonly mb: number; readonly from: number }
  | { readonly kind: 'send-gradient'; readonly mb: number; readonly to: number }
  | { readonly kind: 'recv-gradient'; readonly mb: number; readonly from: number }
  /** Add this micro-batch's weight gradients into the stage's accumulation buffers. */
  | { readonly kind: 'accumulate'; readonly mb: number }
  /** The optimizer step: once per stage, after every micro-batch is accumulated. */
  | { readonly kind: 'update' };

export type InstructionKind = Instruction['kind'];

export type SendInstruction = Extract<Instruction, { kind: 'send-activation' | 'send-gradient' }>;
export type RecvInstruction = Extract<Instruction, { kind: 'recv-activation' | 'recv-gradient' }>;

/**
 * Compact text: F3 / B3 compute, sA3>1 / rA3<0 activations, sG3>0 / rG3<1 gradients,
 * acc3, U. Short enough that a stage's whole program fits on one line.
 */
export function formatInstruction(ins: Instruction): string {
  switch (ins.kind) {
    case 'forward':
      return `F${ins.mb}`;
    case 'backward':
      return `B${ins.mb}`;
    case 'send-activation':
      return `sA${ins.mb}>${ins.to}`;
    case 'recv-activation':
      return `rA${ins.mb}<${ins.from}`;
    case 'send-gradient':
      return `sG${ins.mb}>${ins.to}`;
    case 'recv-gradient':
      return `rG${ins.mb}<${ins.from}`;
    case 'accumulate':
      return `acc${ins.mb}`;
    case 'update':
      return 'U';
    default: {
      const _: never = ins;
      return _;
    }
  }
}

/** Long form for error messages: `send-activation(mb 3, to 1)`. */
export function describeInstruction(ins: Instruction): string {
  switch (ins.kind) {
    case 'forward':
    case 'backward':
    case 'accumulate':
      return `${ins.kind}(mb ${ins.mb})`;
    case 'send-activation':
    case 'send-gradient':
      return `${ins.kind}(mb ${ins.mb}, to ${ins.to})`;
    case 'recv-activation':
    case 'recv-gradient':
      return `${ins.kind}(mb ${ins.mb}, from ${ins.from})`;
    case 'update':
      return 'update';
    default: {
      const _: never = ins;
      return _;
    }
  }
}
