/**
 * Cross-device matching. Collectives: the runtime pairs the k-th call over a group on
 * every member, so for each group every member must hold the same sequence (kind,
 * count, dtype, label, root/axes). Point-to-point: MPI's messages between two ranks
 * with one tag do not overtake, so the k-th send on (from, to, tag) meets the k-th recv.
 */
import type { CollectiveInstruction, DeviceProgram, ProgramSet, RecvInstruction, SendInstruction } from './program.js';
import { problemAt, type VerifyProblem } from './verify-problem.js';

/** What every member must agree on (the group is the bucket key). */
export function collectiveSignature(c: CollectiveInstruction): string {
  const extra = c.op === 'broadcast' ? ` root ${c.root}` : c.op === 'all-gather' || c.op === 'reduce-scatter' ? ` axis ${c.axis}` : c.op === 'all-to-all' ? ` axes ${c.splitAxis}->${c.concatAxis}` : '';
  return `${c.op} '${c.label}' ${c.count} x ${c.dtype}${extra}`;
}

export const groupKey = (g: readonly number[]): string => g.join(',');

interface Entry {
  readonly index: number;
  readonly ins: CollectiveInstruction;
}

export function checkCollectives(set: ProgramSet): VerifyProblem[] {
  const n = set.programs.length;
  // group -> device -> that device's collectives over the group, in program order.
  const byGroup = new Map<string, { group: readonly number[]; seqs: Map<number, Entry[]> }>();
  for (const p of set.programs) {
    p.instructions.forEach((ins, index) => {
      if (ins.kind !== 'collective') return;
      const key = groupKey(ins.group);
      let g = byGroup.get(key);
      if (!g) byGroup.set(key, (g = { group: ins.group, seqs: new Map() }));
      let seq = g.seqs.get(p.device);
      if (!seq) g.seqs.set(p.device, (seq = []));
      seq.push({ index, ins });
    });
  }
  const problems: VerifyProblem[] = [];
  for (const key of [...byGroup.keys()].sort(compareKeys)) {
    const { group, seqs } = byGroup.get(key)!;
    const members = group.filter((d) => Number.isInteger(d) && d >= 0 && d < n);
    const length = Math.max(0, ...members.map((d) => seqs.get(d)?.length ?? 0));
    for (let k = 0; k < length; k++) {
      const sigs = members.map((d) => {
        const e = seqs.get(d)?.[k];
        return e ? collectiveSignature(e.ins) : null;
      });
      if (sigs.every((s) => s === sigs[0])) continue;
      const want = majority(sigs);
      members.forEach((d, i) => {
        const got = sigs[i] ?? null;
        if (want !== undefined && got === want) return;
        const program = set.programs[d]!;
        const e = seqs.get(d)?.[k];
        const others = members.filter((_, j) => sigs[j] !== got);
        const expected = want === undefined ? `the members disagree (${describeVotes(members, sigs)})` : want === null ? `devices ${others.join(',')} have no collective #${k} over this group` : `devices ${members.filter((_, j) => sigs[j] === want).join(',')} have ${want}`;
        if (e) problems.push(problemAt('collectives', program, e.index, `collective #${k} over [${key}] is ${got}; ${expected}`));
        else problems.push(problemAt('collectives', program, program.instructions.length, `missing collective #${k} over [${key}]: ${expected}`, labelOfSignature(want ?? null, members, seqs, k)));
      });
      // Later positions are shifted by this one; one report per group is the useful one.
      break;
    }
  }
  return problems;
}

function compareKeys(a: string, b: string): number {
  const x = a.split(',').map(Number);
  const y = b.split(',').map(Number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** The value held by strictly more members than any other, or undefined on a tie. */
function majority(values: readonly (string | null)[]): string | null | undefined {
  const counts = new Map<string | null, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  const [first, second] = ranked;
  if (!first || (second && second[1] === first[1])) return undefined;
  return first[0];
}

function describeVotes(members: readonly number[], sigs: readonly (string | null)[]): string {
  return members.map((d, i) => `device ${d}: ${sigs[i] ?? 'none'}`).join('; ');
}

function labelOfSignature(want: string | null, members: readonly number[], seqs: Map<number, Entry[]>, k: number): string {
  for (const d of members) {
    const e = seqs.get(d)?.[k];
    if (e && (want === null || collectiveSignature(e.ins) === want)) return e.ins.label;
  }
  return '';
}

interface P2P<T> {
  readonly index: number;
  readonly ins: T;
}

export function checkSendRecv(set: ProgramSet): VerifyProblem[] {
  const n = set.programs.length;
  // channel "from>to:tag" -> sends on `from`, recvs on `to`, each in program order.
  const sends = new Map<string, P2P<SendInstruction>[]>();
  const recvs = new Map<string, P2P<RecvInstruction>[]>();
  const push = <T>(m: Map<string, P2P<T>[]>, key: string, e: P2P<T>): void => {
    const list = m.get(key);
    if (list) list.push(e);
    else m.set(key, [e]);
  };
  for (const p of set.programs) {
    p.instructions.forEach((ins, index) => {
      if (ins.kind === 'send') push(sends, `${p.device}>${ins.peer}:${ins.tag}`, { index, ins });
      else if (ins.kind === 'recv') push(recvs, `${ins.peer}>${p.device}:${ins.tag}`, { index, ins });
    });
  }
  const problems: VerifyProblem[] = [];
  const program = (d: number): DeviceProgram | undefined => (Number.isInteger(d) && d >= 0 && d < n ? set.programs[d] : undefined);
  const channels = [...new Set([...sends.keys(), ...recvs.keys()])].sort(compareChannels);
  for (const ch of channels) {
    const [from, to, tag] = ch.split(/[>:]/).map(Number) as [number, number, number];
    const ss = sends.get(ch) ?? [];
    const rs = recvs.get(ch) ?? [];
    const sender = program(from);
    const receiver = program(to);
    for (let k = 0; k < Math.max(ss.length, rs.length); k++) {
      const s = ss[k];
      const r = rs[k];
      if (s && r) {
        const diffs: string[] = [];
        if (s.ins.count !== r.ins.count) diffs.push(`${s.ins.count} elements sent, ${r.ins.count} expected`);
        if (s.ins.dtype !== r.ins.dtype) diffs.push(`${s.ins.dtype} sent, ${r.ins.dtype} expected`);
        if (s.ins.label !== r.ins.label) diffs.push(`labels '${s.ins.label}' and '${r.ins.label}'`);
        if (diffs.length > 0 && sender && receiver) {
          problems.push(problemAt('send-recv', sender, s.index, `does not match recv #${r.index} on device ${to}: ${diffs.join(', ')}`));
          problems.push(problemAt('send-recv', receiver, r.index, `does not match send #${s.index} on device ${from}: ${diffs.join(', ')}`));
        }
      } else if (s && sender) {
        problems.push(problemAt('send-recv', sender, s.index, `has no matching recv on device ${to} (send ${k + 1} of ${ss.length} on tag ${tag}, ${rs.length} recvs)`));
      } else if (r && receiver) {
        problems.push(problemAt('send-recv', receiver, r.index, `has no matching send on device ${from} (recv ${k + 1} of ${rs.length} on tag ${tag}, ${ss.length} sends)`));
      }
    }
  }
  return problems;
}

function compareChannels(a: string, b: string): number {
  const x = a.split(/[>:]/).map(Number);
  const y = b.split(/[>:]/).map(Number);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}
