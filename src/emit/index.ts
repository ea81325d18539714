/** Per-device programs: the IR, its builder, verifier and printer (docs/runtime.md, "Device programs"). */
export * from './program.js';
export { ProgramBuilder, type CollectiveArgs, type CollectiveOp, type TensorOptions } from './builder.js';
export { receiveFirst } from './exchange.js';
export { printProgram, printPrograms, type PrintedProgram } from './print.js';
export { programDigest, stableJson } from './stable-json.js';
export type { StepContext, StepFunction, TensorComm } from './step-api.js';
export { assertVerified, formatProblem, verifyPrograms, type VerifyCheck, type VerifyProblem, type VerifyReport } from './verify.js';
