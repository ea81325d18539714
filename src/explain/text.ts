/** `autopar explain` for people: one block per layer, then what no layer owns. */
import type { CollectiveCost, PlanExplanation } from './layers.js';

/** Bytes as KiB/MiB/GiB with one decimal (binary units, as the compile summary prints). */
export function bytesText(b: number): string {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)} GiB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MiB`;
  if (b >= 2 ** 10) return `${(b / 2 ** 10).toFixed(1)} KiB`;
  return `${b} B`;
}

/** Seconds with a unit a person reads at a glance. */
export function secondsText(s: number): string {
  const a = Math.abs(s);
  if (a >= 1) return `${s.toFixed(3)} s`;
  if (a >= 1e-3) return `${(s * 1e3).toFixed(3)} ms`;
  return `${(s * 1e6).toFixed(1)} us`;
}

const collectiveText = (c: CollectiveCost): string => `${c.kind}${c.axes.length ? ` over ${c.axes.join('*')}` : ''} ${bytesText(c.bytes)} ${secondsText(c.seconds)} (${c.phase}, ${c.value})`;

export function explanationText(e: PlanExplanation): string {
  const lines = [`${e.model}: strategy ${e.strategy}, ${e.devices} devices, ${e.stages} stage${e.stages === 1 ? '' : 's'}`];
  for (const l of e.layers) {
    lines.push('', `${l.layer}${l.op ? ` (${l.op} ${l.node ?? ''})` : ''}${e.stages > 1 ? `, stage ${l.stage}` : ''}: ${l.pattern}`);
    for (const w of l.weights) {
      lines.push(`  ${w.name} [${w.shape.join(', ')}] ${w.sharding}: ${w.words}`);
      lines.push(`    ${w.optimizerState}`);
    }
    if (l.activation) lines.push(`  output ${l.activation.name} [${l.activation.shape.join(', ')}] ${l.activation.sharding}: ${l.activation.words}`);
    if (l.collectives.length === 0) lines.push('  collectives: none');
    else {
      lines.push(`  collectives: ${l.collectives.length}, ${bytesText(l.collectiveBytes)}, ${secondsText(l.collectiveSeconds)}`);
      for (const c of l.collectives) lines.push(`    ${collectiveText(c)}`);
    }
    if (l.alternative) {
      const tied = l.alternative.ops > 1 ? ` (with its ${l.alternative.ops - 1} tied repeats)` : '';
      lines.push(`  best alternative${tied}: ${l.alternative.words} [${l.alternative.strategy}]: ${l.alternative.extraSeconds >= 0 ? '+' : ''}${secondsText(l.alternative.extraSeconds)} per step, the rest of the plan unchanged`);
    }
  }
  if (e.otherCollectives.length > 0) {
    lines.push('', `other collectives (no layer's weights): ${e.otherCollectives.length}`);
    for (const c of e.otherCollectives) lines.push(`  ${collectiveText(c)}`);
  }
  for (const n of e.notes) lines.push('', `note: ${n}`);
  return lines.join('\n') + '\n';
}
