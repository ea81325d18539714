/**
 * Under synchronous sends (the collective library's rule, docs/runtime.md) two devices
 * that each send to the other and then receive from it deadlock. 1F1B's steady state
 * does exactly that as passes/schedule orders it: stage s sends an activation to s + 1
 * while s + 1 sends a gradient back, and both then receive. The fix MPI programs use
 * (and Megatron's batched send/recv) is that one side of each exchange receives first:
 * here the higher-numbered device of the pair. The verifier's simulation is what
 * proves a result deadlock-free, not this argument.
 */
import type { Instruction, ProgramSet } from './program.js';

const isBlocking = (ins: Instruction): boolean => ins.kind === 'collective' || ins.kind === 'send' || ins.kind === 'recv';

/** Position of every send and recv by its channel and ordinal: `from>to:tag#k`. */
function messagePositions(set: ProgramSet): { sends: Map<string, number>; recvs: Map<string, number>; keyAt: Map<string, string> } {
  const sends = new Map<string, number>();
  const recvs = new Map<string, number>();
  const keyAt = new Map<string, string>();
  for (const p of set.programs) {
    const seen = new Map<string, number>();
    p.instructions.forEach((ins, i) => {
      if (ins.kind !== 'send' && ins.kind !== 'recv') return;
      const channel = ins.kind === 'send' ? `${p.device}>${ins.peer}:${ins.tag}` : `${ins.peer}>${p.device}:${ins.tag}`;
      const k = seen.get(`${ins.kind} ${channel}`) ?? 0;
      seen.set(`${ins.kind} ${channel}`, k + 1);
      const key = `${channel}#${k}`;
      (ins.kind === 'send' ? sends : recvs).set(key, i);
      keyAt.set(`${p.device}/${i}`, key);
    });
  }
  return { sends, recvs, keyAt };
}

/**
 * On device d, a send to p < d whose next blocking instruction is a recv from p becomes
 * that recv, then the send (locals between stay after the send; the recv's tensor is
 * new, so none of them reads it), but only where p also sends its half before receiving
 * the other: an exchange that already has a receiving side is left alone.
 */
export function receiveFirst(set: ProgramSet): ProgramSet {
  const { sends, recvs, keyAt } = messagePositions(set);
  const programs = set.programs.map((program) => {
    const d = program.device;
    const swaps: [number, number][] = [];
    program.instructions.forEach((send, i) => {
      if (send.kind !== 'send' || send.peer >= d) return;
      let j = i + 1;
      while (j < program.instructions.length && !isBlocking(program.instructions[j]!)) j++;
      const recv = program.instructions[j];
      if (recv === undefined || recv.kind !== 'recv' || recv.peer !== send.peer) return;
      // On the peer: where it receives this send, and where it sends what this recv takes.
      const peerRecv = recvs.get(keyAt.get(`${d}/${i}`) ?? '');
      const peerSend = sends.get(keyAt.get(`${d}/${j}`) ?? '');
      if (peerRecv !== undefined && peerSend !== undefined && peerSend < peerRecv) swaps.push([i, j]);
    });
    if (swaps.length === 0) return program;
    const list: Instruction[] = [...program.instructions];
    // From the back, so earlier indices stay valid.
    for (const [i, j] of swaps.reverse()) {
      const [recv] = list.splice(j, 1);
      if (recv) list.splice(i, 0, recv);
    }
    return { ...program, instructions: list };
  });
  return { ...set, programs };
}
