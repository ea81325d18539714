/**
 * Runs every device's program abstractly under the strictest blocking rules the
 * collective library allows: a collective completes only when every member is at its
 * collective over that group; a send only when its receiver is at the matching recv
 * (a synchronous send, docs/runtime.md) and the recv with it. Local instructions
 * always complete. If the programs run to the end under these rules, they run under
 * any buffering; if no device can move, that is a deadlock and each stuck device is
 * reported with what it waits for.
 */
import { describe, type DeviceProgram, type Instruction, type ProgramSet } from './program.js';
import { groupKey } from './verify-match.js';
import { problemAt, type VerifyProblem } from './verify-problem.js';

const blocking = (ins: Instruction): boolean => ins.kind === 'collective' || ins.kind === 'send' || ins.kind === 'recv';

export interface SimulationResult {
  /** Steps taken: each is one collective, one send/recv pair, or one local instruction. */
  readonly steps: number;
  readonly finished: boolean;
  readonly problems: readonly VerifyProblem[];
}

export function simulate(set: ProgramSet): SimulationResult {
  const programs = set.programs;
  const n = programs.length;
  const pc = programs.map(() => 0);
  const current = (d: number): Instruction | undefined => programs[d]?.instructions[pc[d]!];
  let steps = 0;
  let progress = true;
  while (progress) {
    progress = false;
    for (let d = 0; d < n; d++) {
      const program = programs[d]!;
      // Local work never waits: run it all up to the next blocking instruction.
      while (pc[d]! < program.instructions.length && !blocking(program.instructions[pc[d]!]!)) {
        pc[d]! += 1;
        steps += 1;
        progress = true;
      }
      const ins = current(d);
      if (!ins) continue;
      if (ins.kind === 'collective') {
        const key = groupKey(ins.group);
        const members = ins.group.includes(d) ? ins.group : [...ins.group, d];
        const ready = members.every((m) => {
          const c = current(m);
          return c !== undefined && c.kind === 'collective' && groupKey(c.group) === key;
        });
        if (ready) {
          for (const m of members) pc[m]! += 1;
          steps += 1;
          progress = true;
        }
      } else if (ins.kind === 'send' || ins.kind === 'recv') {
        const other = current(ins.peer);
        const want = ins.kind === 'send' ? 'recv' : 'send';
        if (other && other.kind === want && other.peer === d && other.tag === ins.tag) {
          pc[d]! += 1;
          pc[ins.peer]! += 1;
          steps += 1;
          progress = true;
        }
      }
    }
  }
  const stuck = programs.filter((p) => pc[p.device]! < p.instructions.length);
  const problems = stuck.map((p) => problemAt('deadlock', p, pc[p.device]!, `deadlock: waits forever; ${waitingFor(programs, pc, p)}`));
  return { steps, finished: stuck.length === 0, problems };
}

/** Where the devices this one waits for are, e.g. `device 1 is at #4 send to 0 tag 2 'x'`. */
function waitingFor(programs: readonly DeviceProgram[], pc: readonly number[], p: DeviceProgram): string {
  const ins = p.instructions[pc[p.device]!];
  if (!ins) return '';
  const peers = ins.kind === 'collective' ? ins.group.filter((m) => m !== p.device) : ins.kind === 'send' || ins.kind === 'recv' ? [ins.peer] : [];
  return peers
    .map((m) => {
      const q = programs[m];
      if (!q) return `device ${m} does not exist`;
      const at = q.instructions[pc[m]!];
      return at ? `device ${m} is at #${pc[m]} ${describe(at)}` : `device ${m} has finished`;
    })
    .join('; ');
}
