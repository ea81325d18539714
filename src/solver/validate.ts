/**
 * Shape and number checks on a Problem. A malformed problem is a bug in the pass that
 * built it, so every error is E_INTERNAL and names the node, edge or constraint.
 */
import { fail } from '../errors.js';
import type { Problem } from './problem.js';

function nodeLabel(p: Problem, index: number): string {
  const name = p.nodes[index]?.name;
  return name === undefined ? `node ${index}` : `node ${index} (${name})`;
}

function checkIndex(p: Problem, index: number, where: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= p.nodes.length) {
    fail('E_INTERNAL', `solver problem: ${where} refers to node ${index}, but there are ${p.nodes.length} nodes`);
  }
}

export function validateProblem(p: Problem): void {
  p.nodes.forEach((node, v) => {
    if (node.strategies.length === 0) fail('E_INTERNAL', `solver problem: ${nodeLabel(p, v)} has no strategy`);
    node.strategies.forEach((s, i) => {
      if (!Number.isFinite(s.cost)) {
        fail('E_INTERNAL', `solver problem: ${nodeLabel(p, v)} strategy ${i} has cost ${s.cost}; costs must be finite`);
      }
    });
  });

  p.edges.forEach((edge, k) => {
    checkIndex(p, edge.from, `edge ${k} 'from'`);
    checkIndex(p, edge.to, `edge ${k} 'to'`);
    const rows = p.nodes[edge.from]?.strategies.length ?? 0;
    const cols = p.nodes[edge.to]?.strategies.length ?? 0;
    if (edge.costs.length !== rows) {
      fail('E_INTERNAL', `solver problem: edge ${k} (${edge.from} -> ${edge.to}) has ${edge.costs.length} cost rows, but ${nodeLabel(p, edge.from)} has ${rows} strategies`);
    }
    edge.costs.forEach((row, i) => {
      if (row.length !== cols) {
        fail('E_INTERNAL', `solver problem: edge ${k} (${edge.from} -> ${edge.to}) row ${i} has ${row.length} entries, but ${nodeLabel(p, edge.to)} has ${cols} strategies`);
      }
      row.forEach((c, j) => {
        if (!Number.isFinite(c)) fail('E_INTERNAL', `solver problem: edge ${k} (${edge.from} -> ${edge.to}) cost [${i}][${j}] is ${c}; resharding costs must be finite`);
      });
    });
  });

  p.memory.forEach((constraint, c) => {
    const label = constraint.name === undefined ? `memory constraint ${c}` : `memory constraint ${c} (${constraint.name})`;
    // +Infinity is allowed: an unlimited budget is a constraint that never binds.
    if (Number.isNaN(constraint.budget) || constraint.budget === -Infinity) {
      fail('E_INTERNAL', `solver problem: ${label} has budget ${constraint.budget}`);
    }
    constraint.terms.forEach((term, t) => {
      checkIndex(p, term.node, `${label} term ${t}`);
      const count = p.nodes[term.node]?.strategies.length ?? 0;
      if (term.bytes.length !== count) {
        fail('E_INTERNAL', `solver problem: ${label} term ${t} lists ${term.bytes.length} byte counts, but ${nodeLabel(p, term.node)} has ${count} strategies`);
      }
      term.bytes.forEach((b, i) => {
        if (!Number.isFinite(b)) fail('E_INTERNAL', `solver problem: ${label} term ${t} bytes[${i}] is ${b}; must be finite`);
      });
    });
  });

  p.ties.forEach((group, g) => {
    let count: number | undefined;
    for (const node of group) {
      checkIndex(p, node, `tie group ${g}`);
      const n = p.nodes[node]?.strategies.length ?? 0;
      if (count === undefined) count = n;
      else if (n !== count) {
        fail('E_INTERNAL', `solver problem: tie group ${g} mixes strategy counts (${count} and ${n} at ${nodeLabel(p, node)}); tied nodes must have the same strategies`);
      }
    }
  });
  // Two groups sharing a node merge; their counts must then agree too. Checking each
  // group against its first member's count and every group above covers that, because a
  // shared node carries one count.
}
