/** What the verifier reports: one problem per finding, located on a device and an instruction. */
import { describe, instructionLabel, type DeviceProgram } from './program.js';

export type VerifyCheck = 'structure' | 'tensors' | 'collectives' | 'send-recv' | 'deadlock';

export interface VerifyProblem {
  readonly check: VerifyCheck;
  readonly device: number;
  /** Instruction index on that device; the program's length for "at the end", -1 for the program as a whole. */
  readonly index: number;
  /** The label of the instruction there (collective/send/recv label, node name, ...), or '' for none. */
  readonly label: string;
  readonly message: string;
}

export function problemAt(check: VerifyCheck, program: DeviceProgram, index: number, message: string, label?: string): VerifyProblem {
  const ins = program.instructions[index];
  const where = ins === undefined ? (index < 0 ? 'program' : `#${index} end of program`) : `#${index} ${describe(ins)}`;
  return {
    check,
    device: program.device,
    index,
    label: label ?? (ins === undefined ? '' : instructionLabel(ins)),
    message: `device ${program.device} ${where}: ${message}`,
  };
}

export function formatProblem(p: VerifyProblem): string {
  return `[${p.check}] ${p.message}`;
}
