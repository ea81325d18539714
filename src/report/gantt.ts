/** The pipeline timeline as an inline SVG Gantt chart: one row per stage, one bar per pass. */
import { esc, secondsText } from './format.js';
import type { Bar, BarKind, Timeline } from './timeline.js';

const WIDTH = 960;
const LEFT = 70;
const ROW = 28;
const TOP = 8;
const AXIS = 26;

const FILL: Readonly<Record<BarKind, string>> = { forward: '#4e79a7', backward: '#f28e2b', update: '#8c8c8c' };

function label(b: Bar): string {
  switch (b.kind) {
    case 'forward':
      return `F${b.mb ?? ''}`;
    case 'backward':
      return `B${b.mb ?? ''}`;
    case 'update':
      return 'U';
    default: {
      const _: never = b.kind;
      return _;
    }
  }
}

export function ganttSvg(t: Timeline): string {
  const span = t.stepSeconds > 0 ? t.stepSeconds : 1;
  const plot = WIDTH - LEFT - 10;
  const x = (s: number): number => LEFT + (s / span) * plot;
  const height = TOP + t.stages * ROW + AXIS;
  const parts: string[] = [];
  for (let s = 0; s < t.stages; s++) {
    const y = TOP + s * ROW;
    parts.push(`<rect x="${LEFT}" y="${y}" width="${plot}" height="${ROW - 4}" fill="#f3f3f3"/>`);
    parts.push(`<text x="${LEFT - 8}" y="${y + ROW / 2 + 2}" text-anchor="end" class="lbl">stage ${s}</text>`);
  }
  for (const b of t.bars) {
    const y = TOP + b.stage * ROW;
    const w = Math.max(1, x(b.end) - x(b.start));
    const name = label(b);
    const title = `stage ${b.stage} ${b.kind}${b.mb === undefined ? '' : ` micro-batch ${b.mb}`}: ${secondsText(b.start)} to ${secondsText(b.end)}`;
    parts.push(
      `<g class="bar" data-kind="${b.kind}" data-stage="${b.stage}"${b.mb === undefined ? '' : ` data-mb="${b.mb}"`} data-start="${b.start}" data-end="${b.end}">` +
        `<rect x="${x(b.start).toFixed(2)}" y="${y + 2}" width="${w.toFixed(2)}" height="${ROW - 8}" fill="${FILL[b.kind]}" stroke="#fff" stroke-width="0.5"><title>${esc(title)}</title></rect>` +
        (w > 8 * name.length ? `<text x="${(x(b.start) + w / 2).toFixed(2)}" y="${y + ROW / 2 + 2}" text-anchor="middle" class="barlbl">${name}</text>` : '') +
        '</g>',
    );
  }
  const axisY = TOP + t.stages * ROW;
  parts.push(`<line x1="${LEFT}" y1="${axisY}" x2="${LEFT + plot}" y2="${axisY}" stroke="#444"/>`);
  for (let i = 0; i <= 5; i++) {
    const s = (span * i) / 5;
    parts.push(`<line x1="${x(s)}" y1="${axisY}" x2="${x(s)}" y2="${axisY + 4}" stroke="#444"/><text x="${x(s)}" y="${axisY + 16}" text-anchor="${i === 0 ? 'start' : i === 5 ? 'end' : 'middle'}" class="tick">${esc(secondsText(s))}</text>`);
  }
  return `<svg id="gantt" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="pipeline timeline">${parts.join('')}</svg>`;
}

/** The colour key under the chart. */
export function ganttLegend(): string {
  return (['forward', 'backward', 'update'] as const).map((k) => `<span class="key"><i style="background:${FILL[k]}"></i>${k}</span>`).join('');
}
