/** Horizontal bar charts as inline SVG: the cost breakdown and memory per device against its limit. */
import type { PlanJson } from '../planner/plan-json.js';
import { bytesText, esc, secondsText, stageColour } from './format.js';

const WIDTH = 960;
const LEFT = 230;
const ROW = 26;

export interface BarRow {
  readonly label: string;
  readonly value: number;
  readonly text: string;
  readonly fill: string;
  readonly attrs: string;
}

export function barChart(id: string, rows: readonly BarRow[], scale: number, limit?: { readonly at: number; readonly label: string }): string {
  const plot = WIDTH - LEFT - 170;
  const x = (v: number): number => LEFT + (scale > 0 ? (v / scale) * plot : 0);
  const parts = rows.map((r, i) => {
    const y = 6 + i * ROW;
    const w = Math.max(1, x(r.value) - LEFT);
    return (
      `<g class="row" ${r.attrs}><text x="${LEFT - 8}" y="${y + 15}" text-anchor="end" class="lbl">${esc(r.label)}</text>` +
      `<rect x="${LEFT}" y="${y + 2}" width="${w.toFixed(2)}" height="${ROW - 8}" fill="${r.fill}"/>` +
      `<text x="${(LEFT + w + 6).toFixed(2)}" y="${y + 15}" class="val">${esc(r.text)}</text></g>`
    );
  });
  const height = 12 + rows.length * ROW;
  if (limit) {
    const lx = x(limit.at);
    parts.push(`<line x1="${lx}" y1="2" x2="${lx}" y2="${height - 4}" stroke="#c00" stroke-dasharray="4 3"/><text x="${lx - 4}" y="${height - 6}" text-anchor="end" class="tick" fill="#c00">${esc(limit.label)}</text>`);
  }
  return `<svg id="${id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img">${parts.join('')}</svg>`;
}

/** Compute, communication and bubble against the step. */
export function costSvg(plan: PlanJson): string {
  const c = plan.cost;
  const rows: BarRow[] = [
    { label: 'step', value: c.stepTimeSeconds, text: secondsText(c.stepTimeSeconds), fill: '#333', attrs: 'data-cost="step"' },
    { label: 'compute', value: c.computeSeconds, text: secondsText(c.computeSeconds), fill: '#4e79a7', attrs: 'data-cost="compute"' },
    { label: 'communication', value: c.communicationSeconds, text: secondsText(c.communicationSeconds), fill: '#f28e2b', attrs: 'data-cost="communication"' },
    { label: 'pipeline bubble', value: c.bubbleSeconds, text: secondsText(c.bubbleSeconds), fill: '#bab0ac', attrs: 'data-cost="bubble"' },
  ];
  return barChart('costs', rows, Math.max(...rows.map((r) => r.value)));
}

/** Each stage's devices hold the same estimate: one bar per stage, with the device limit marked. */
export function memorySvg(plan: PlanJson): string {
  const limit = plan.cost.memoryLimitBytesPerDevice;
  const rows: BarRow[] = plan.stages.map((s, i) => {
    const bytes = s.memoryBytesPerDevice ?? plan.cost.peakMemoryBytesPerDevice;
    const devices = s.devices.length > 4 ? `${s.devices[0]}-${s.devices[s.devices.length - 1]}` : s.devices.join(', ');
    return {
      label: `stage ${i}, devices ${devices}`,
      value: bytes,
      text: `${bytesText(bytes)} of ${bytesText(limit)} (${((100 * bytes) / limit).toFixed(2)}%)`,
      fill: bytes > limit ? '#c00' : stageColour(i),
      attrs: `data-memory-stage="${i}" data-value="${bytes}"`,
    };
  });
  return barChart('memory', rows, Math.max(limit, ...rows.map((r) => r.value)), { at: limit, label: `limit ${bytesText(limit)}` });
}
