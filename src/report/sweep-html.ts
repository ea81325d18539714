/**
 * The page of `autopar compare --devices`: throughput and samples per device-hour against
 * the cluster size as inline SVG (nothing fetched), the size where adding devices stops
 * paying marked, and the table of every strategy at every size. Each point carries the
 * JSON's figure in data-value. Written to a temporary name and renamed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SweepPoint, SweepResult } from '../planner/sweep.js';
import { esc, secondsText } from './format.js';

const W = 960;
const H = 300;
const L = 90;
const R = 30;
const T = 20;
const B = 50;

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin:0 0 16px}.note{color:#666;font-size:12px}
svg text{font:11px system-ui,sans-serif}svg .tick{fill:#555;font-size:10px}svg .val{fill:#333}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eee;vertical-align:top}th{background:#f6f7f9}
tr.stop td{background:#fdecea}tr.rec td{background:#eaf5ea}
`;

/** Compact figures for axis ticks and point labels (the table has them in full). */
function num(v: number): string {
  if (v === 0) return '0';
  if (v >= 1e9) return `${(v / 1e9).toPrecision(3)}G`;
  if (v >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${(v / 1e3).toPrecision(3)}k`;
  return v.toPrecision(3);
}

/** One series against the sizes (evenly spaced: sizes usually double). */
function chart(id: string, points: readonly SweepPoint[], value: (p: SweepPoint) => number | null, label: string, colour: string, r: SweepResult): string {
  const aria = `${label} against devices`;
  const vals = points.map(value);
  const top = Math.max(0, ...vals.map((v) => v ?? 0)) * 1.15 || 1;
  // Points stay clear of the axis labels on the left and of the edge on the right.
  const pad = 40;
  const x = (i: number): number => L + pad + (points.length === 1 ? (W - L - R - 2 * pad) / 2 : (i * (W - L - R - 2 * pad)) / (points.length - 1));
  const y = (v: number): number => T + (1 - v / top) * (H - T - B);
  const parts: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/><text x="${L - 6}" y="${(y(v) + 3).toFixed(1)}" text-anchor="end" class="tick">${esc(num(v))}</text>`);
  }
  const stopAt = points.findIndex((p) => p.devices === r.stopsPaying);
  if (stopAt >= 0) parts.push(`<line x1="${x(stopAt)}" x2="${x(stopAt)}" y1="${T}" y2="${H - B}" stroke="#c00" stroke-dasharray="4 3"/><text x="${x(stopAt) + 4}" y="${T + 10}" class="tick" fill="#c00">stops paying</text>`);
  const line = vals.map((v, i) => (v === null ? '' : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter((s) => s !== '');
  if (line.length > 1) parts.push(`<polyline points="${line.join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
  points.forEach((p, i) => {
    const v = vals[i] ?? null;
    parts.push(`<text x="${x(i).toFixed(1)}" y="${H - B + 18}" text-anchor="middle" class="tick">${p.devices} (${p.hosts} host${p.hosts === 1 ? '' : 's'})</text>`);
    if (v === null) {
      parts.push(`<text x="${x(i).toFixed(1)}" y="${H - B - 6}" text-anchor="middle" class="tick" data-point="${p.devices}">no plan</text>`);
      return;
    }
    const rec = p.devices === r.recommended;
    parts.push(
      `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="${rec ? 7 : 4}" fill="${p.pays === false ? '#c00' : colour}" stroke="${rec ? '#222' : 'none'}" stroke-width="2" data-point="${p.devices}" data-value="${v}"/>` +
        `<text x="${x(i).toFixed(1)}" y="${(y(v) - 10).toFixed(1)}" text-anchor="middle" class="val">${esc(num(v))}</text>`,
    );
  });
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle" class="tick">devices</text>`);
  return `<svg id="${id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(aria)}">${parts.join('')}</svg>`;
}

function tableRows(r: SweepResult): string {
  return r.points
    .map((p) => {
      const cls = p.devices === r.stopsPaying ? ' class="stop"' : p.devices === r.recommended ? ' class="rec"' : '';
      const others = p.strategies.map((s) => (s.feasible ? `${esc(s.strategy)} ${esc(secondsText(s.stepTimeSeconds ?? 0))}` : `${esc(s.strategy)}: <span class="note">${esc(s.reason ?? 'no plan')}</span>`)).join('<br>');
      return (
        `<tr${cls} data-devices="${p.devices}"><td>${p.devices}</td><td>${p.hosts}</td><td>${esc(p.best ?? '-')}</td><td>${p.stepTimeSeconds === null ? '-' : esc(secondsText(p.stepTimeSeconds))}</td>` +
        `<td>${p.throughputSamplesPerSecond === null ? '-' : p.throughputSamplesPerSecond.toFixed(1)}</td><td>${p.samplesPerDeviceHour === null ? '-' : p.samplesPerDeviceHour.toFixed(0)}</td>` +
        `<td>${p.gain === null ? '-' : p.gain.toFixed(2)}</td><td>${p.pays === null ? '-' : p.pays ? 'yes' : 'no'}</td><td>${others}</td></tr>`
      );
    })
    .join('');
}

export function renderSweep(r: SweepResult): string {
  const verdict =
    r.recommended === null
      ? 'No size has a plan that fits.'
      : r.stopsPaying === null
        ? `Adding devices pays up to the largest size tried, ${r.recommended}.`
        : `Adding devices pays up to ${r.recommended}; going to ${r.stopsPaying} does not.`;
  const link = `${(r.interHost.bandwidthBytesPerSecond * 8) / 1e9} Gb/s, ${r.interHost.latencySeconds * 1e6} us (${r.interHost.from === 'cluster' ? 'from the cluster file' : r.interHost.from === 'option' ? `--inter-host ${r.interHost.name}` : `the default ${r.interHost.name}`})`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>autopar device sweep: ${esc(r.model)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(r.model)}: how many devices?</h1>
<p class="sub">batch ${r.batch ?? '?'} per step at every size, on hosts of ${r.devicesPerHost} x ${esc(r.device)} (${esc(r.cluster)}); between hosts ${esc(link)}; strategies ${esc(r.strategies.join(', '))}; planned in ${r.planningSeconds.toFixed(1)} s</p>
<p id="verdict" data-recommended="${r.recommended ?? ''}" data-stops-paying="${r.stopsPaying ?? ''}"><b>${esc(verdict)}</b> <span class="note">Rule: ${esc(r.rule.text)}.</span></p>
<section><h2>Throughput (samples/s, best strategy)</h2>${chart('throughput', r.points, (p) => p.throughputSamplesPerSecond, 'samples/s', '#4e79a7', r)}</section>
<section><h2>Samples per device-hour</h2>${chart('per-device-hour', r.points, (p) => p.samplesPerDeviceHour, 'samples per device-hour', '#59a14f', r)}</section>
<section><h2>Every size</h2><table id="sizes"><thead><tr><th>devices</th><th>hosts</th><th>best</th><th>step</th><th>samples/s</th><th>samples/device-hour</th><th>gain</th><th>pays</th><th>strategies</th></tr></thead>
<tbody>${tableRows(r)}</tbody></table>
<p class="note">Step times are the planner's cost model (analytical unless a profile is given), not measurements.</p></section>
</body></html>
`;
}

export function writeSweepHtml(file: string, r: SweepResult): string {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.tmp-${process.pid}`);
  fs.writeFileSync(tmp, renderSweep(r));
  fs.renameSync(tmp, file);
  return file;
}
