/**
 * Static verification of a program set before anything runs. A set that fails is a
 * compiler bug, reported with device, instruction and label, never a hang at run time.
 * Checks: (structure) ids, groups, peers, tags well formed; (tensors) declared,
 * defined before use, single-assignment, sizes and collective shapes consistent;
 * (collectives) every member of a group holds the same sequence over it;
 * (send-recv) one recv per send on each (from, to, tag) channel, same count and dtype;
 * (deadlock) the set runs to the end with synchronous sends and blocking collectives.
 */
import { AutoparError } from '../errors.js';
import type { ProgramSet } from './program.js';
import { simulate } from './verify-deadlock.js';
import { checkCollectives, checkSendRecv } from './verify-match.js';
import { formatProblem, type VerifyProblem } from './verify-problem.js';
import { checkStructure, checkTensors } from './verify-tensors.js';

export type { VerifyCheck, VerifyProblem } from './verify-problem.js';
export { formatProblem } from './verify-problem.js';

export interface VerifyReport {
  readonly ok: boolean;
  readonly problems: readonly VerifyProblem[];
  readonly stats: {
    readonly devices: number;
    readonly instructions: number;
    readonly collectives: number;
    readonly sends: number;
    readonly recvs: number;
    /** Steps the deadlock simulation took (collectives and send/recv pairs count once). */
    readonly simulatedSteps: number;
  };
}

export function verifyPrograms(set: ProgramSet): VerifyReport {
  const problems: VerifyProblem[] = [
    ...checkStructure(set),
    ...set.programs.flatMap(checkTensors),
    ...checkCollectives(set),
    ...checkSendRecv(set),
  ];
  const sim = simulate(set);
  problems.push(...sim.problems);
  let instructions = 0;
  let collectives = 0;
  let sends = 0;
  let recvs = 0;
  for (const p of set.programs) {
    instructions += p.instructions.length;
    for (const ins of p.instructions) {
      if (ins.kind === 'collective') collectives += 1;
      else if (ins.kind === 'send') sends += 1;
      else if (ins.kind === 'recv') recvs += 1;
    }
  }
  return {
    ok: problems.length === 0,
    problems,
    stats: { devices: set.programs.length, instructions, collectives, sends, recvs, simulatedSteps: sim.steps },
  };
}

/** Throws E_INTERNAL naming the first problems: a set that fails is the compiler's fault. */
export function assertVerified(set: ProgramSet, shown = 3): void {
  const report = verifyPrograms(set);
  if (report.ok) return;
  const n = report.problems.length;
  const first = report.problems.slice(0, shown).map(formatProblem).join('; ');
  throw new AutoparError(
    'E_INTERNAL',
    `device programs failed verification (a compiler bug, please report it with the plan): ${n} problem${n === 1 ? '' : 's'}: ${first}${n > shown ? `; and ${n - shown} more` : ''}`,
  );
}
