/**
 * The page of `autopar compare --html`: every strategy side by side as inline SVG bars
 * (step time, throughput, memory per device, communication per step; nothing fetched),
 * the strategies that cannot apply with their reasons. Each bar carries the JSON's figure
 * in data-value. Written to a temporary name and renamed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CompareResult, CompareRow } from '../planner/compare.js';
import { barChart, type BarRow } from './bars.js';
import { bytesText, esc, secondsText } from './format.js';

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin:0 0 16px}.note{color:#666;font-size:12px}
svg text{font:11px system-ui,sans-serif}svg .lbl{fill:#333}svg .val{fill:#333}svg .tick{fill:#555;font-size:10px}
`;

type Figure = 'stepTimeSeconds' | 'throughputSamplesPerSecond' | 'peakMemoryBytesPerDevice' | 'communicationBytesPerStep';

function bars(id: string, r: CompareResult, key: Figure, text: (v: number) => string): string {
  const rows: BarRow[] = r.strategies.flatMap((s: CompareRow) => {
    const v = s.feasible ? s[key] : null;
    if (v === null) return [];
    const label = `${s.strategy}${s.meshShape ? ` [${s.meshShape.join('x')}]` : ''}`;
    return [{ label, value: v, text: text(v), fill: s.strategy === r.best ? '#59a14f' : '#4e79a7', attrs: `data-strategy="${esc(s.strategy)}" data-value="${v}"` }];
  });
  return barChart(id, rows, Math.max(0, ...rows.map((x) => x.value)));
}

export function renderCompare(r: CompareResult): string {
  const rejected = r.strategies.filter((s) => !s.feasible);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>autopar compare: ${esc(r.model)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(r.model)}: strategies side by side</h1>
<p class="sub">${r.devices} devices; best: <b id="best">${esc(r.best)}</b> (green). Figures are the planner's cost model, not measurements.</p>
<section><h2>Step time</h2>${bars('step', r, 'stepTimeSeconds', secondsText)}</section>
<section><h2>Throughput (samples/s)</h2>${bars('throughput', r, 'throughputSamplesPerSecond', (v) => v.toFixed(1))}</section>
<section><h2>Memory per device</h2>${bars('memory', r, 'peakMemoryBytesPerDevice', bytesText)}</section>
<section><h2>Communication per step</h2>${bars('communication', r, 'communicationBytesPerStep', bytesText)}</section>
${rejected.length ? `<section><h2>Cannot apply</h2><ul>${rejected.map((s) => `<li data-rejected="${esc(s.strategy)}"><b>${esc(s.strategy)}</b>: ${esc(s.reason ?? 'no plan')}</li>`).join('')}</ul></section>` : ''}
</body></html>
`;
}

export function writeCompareHtml(file: string, r: CompareResult): string {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}`);
  fs.writeFileSync(tmp, renderCompare(r));
  fs.renameSync(tmp, file);
  return file;
}
