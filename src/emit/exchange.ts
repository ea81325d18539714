/**
 * Under synchronous sends (the collective library's rule, docs/runtime.md) two devices
 * that each send to the other and then receive from it deadlock. 1F1B's steady state
 * does exactly that as passes/schedule orders it: stage s sends an activation to s + 1
 * while s + 1 sends a gradient back, and both then receive. The fix MPI programs use
 * (and Megatron's batched send/recv) is that one side of each exchange receives first:
 * here the higher-numbered device of the pair, so neighbours always disagree. The
 * verifier's simulation is what proves the result deadlock-free, not this argument.
 */
import type { DeviceProgram, Instruction, ProgramSet } from './program.js';

const isBlocking = (ins: Instruction): boolean => ins.kind === 'collective' || ins.kind === 'send' || ins.kind === 'recv';

/**
 * On every device d, a send to p whose next blocking instruction is a recv from p,
 * with p < d, becomes that recv, then the send (locals in between keep their place
 * after the send). The recv's tensor is new, so nothing between depends on it.
 */
export function receiveFirst(program: DeviceProgram): DeviceProgram {
  const list: Instruction[] = [...program.instructions];
  for (let i = 0; i < list.length; i++) {
    const send = list[i]!;
    if (send.kind !== 'send' || send.peer >= program.device) continue;
    let j = i + 1;
    while (j < list.length && !isBlocking(list[j]!)) j++;
    const recv = list[j];
    if (recv === undefined || recv.kind !== 'recv' || recv.peer !== send.peer) continue;
    list.splice(j, 1);
    list.splice(i, 0, recv);
    i++; // past the send, now at i + 1
  }
  return { ...program, instructions: list };
}

export function receiveFirstAll(set: ProgramSet): ProgramSet {
  return { ...set, programs: set.programs.map(receiveFirst) };
}
