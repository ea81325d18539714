/**
 * Errors a user can act on. The CLI prints `message` as one line (no stack unless
 * --debug); `code` lets tests and scripts tell kinds apart without parsing text.
 */
export type ErrorCode =
  | 'E_FILE'
  | 'E_PARSE'
  | 'E_UNSUPPORTED_OP'
  | 'E_GRAPH'
  | 'E_SHAPE'
  | 'E_DIM'
  | 'E_WEIGHTS'
  | 'E_REFERENCE'
  | 'E_CLUSTER'
  | 'E_USAGE'
  | 'E_INTERNAL';

export class AutoparError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message.replace(/\s*\n\s*/g, ' '));
    this.code = code;
    this.name = 'AutoparError';
  }
}

export function fail(code: ErrorCode, message: string): never {
  throw new AutoparError(code, message);
}
