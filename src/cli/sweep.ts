/** The terminal table of `autopar compare --devices`. */
import path from 'node:path';
import type { SweepApiResult } from '../api/sweep.js';

export function printSweep(r: SweepApiResult): void {
  const cell = (v: number | null, digits: number): string => (v === null ? '-' : v.toFixed(digits));
  const lines = [
    `${r.model}, batch ${r.batch ?? '?'} per step, on hosts of ${r.devicesPerHost} x ${r.device}; between hosts ${r.interHost.from === 'cluster' ? 'the cluster file\'s network' : r.interHost.name}${r.interHost.from === 'default' ? ' (default; --inter-host to change)' : ''}`,
    `strategies ${r.strategies.join(', ')} (hybrid: tensor parallel inside a host, data parallel across hosts)`,
    'devices  hosts  best            step (ms)   samples/s    samples/device-h  gain    pays',
  ];
  for (const p of r.points) {
    const mark = p.devices === r.stopsPaying ? '  <- stops paying' : p.devices === r.recommended ? '  <- recommended' : '';
    lines.push(
      `${String(p.devices).padEnd(8)} ${String(p.hosts).padEnd(6)} ${(p.best ?? '-').padEnd(15)} ${(p.stepTimeSeconds === null ? '-' : (p.stepTimeSeconds * 1e3).toFixed(3)).padEnd(11)} ${cell(p.throughputSamplesPerSecond, 1).padEnd(12)} ${cell(p.samplesPerDeviceHour, 0).padEnd(17)} ${cell(p.gain, 2).padEnd(7)} ${p.pays === null ? '-' : p.pays ? 'yes' : 'no'}${mark}`,
    );
    if (!p.feasible) lines.push(`         no plan: ${p.strategies.map((s) => `${s.strategy}: ${s.reason ?? '?'}`).join('; ')}`);
  }
  lines.push(`rule: ${r.rule.text}`);
  lines.push(r.recommended === null ? 'no size has a plan that fits' : r.stopsPaying === null ? `adding devices pays up to ${r.recommended} (the largest size tried)` : `adding devices pays up to ${r.recommended}; ${r.stopsPaying} does not`);
  lines.push(`planned in ${r.planningSeconds.toFixed(1)} s${r.html ? `; chart ${path.resolve(r.html)}` : ''}`);
  process.stdout.write(lines.join('\n') + '\n');
}
