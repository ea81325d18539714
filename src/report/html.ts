/**
 * report.html: one self-contained page (inline CSS, SVG and a few lines of JS; nothing
 * fetched) rendered from the same PlanJson object compile writes as plan.json, so every
 * figure on the page is plan.json's. Written to a temporary name and renamed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { explainPlan, type LayerExplanation } from '../explain/layers.js';
import type { PlanJson } from '../planner/plan-json.js';
import { costSvg, memorySvg } from './bars.js';
import { bytesText, esc, secondsText } from './format.js';
import { ganttLegend, ganttSvg } from './gantt.js';
import { meshSvg, stageLegend } from './mesh-svg.js';
import { planTimeline } from './timeline.js';

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin:0 0 16px}
.figs{display:grid;grid-template-columns:repeat(4,1fr);gap:10px}
.fig{background:#f6f7f9;border-radius:8px;padding:10px 12px}.fig .v{font-size:20px;font-weight:600}.fig .k{color:#666;font-size:12px}
.key{display:inline-flex;align-items:center;margin:4px 14px 4px 0;font-size:12px}.key i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:5px}
svg text{font:11px system-ui,sans-serif}svg .lbl{fill:#333}svg .dev{fill:#fff;font-weight:600;font-size:13px}svg .barlbl{fill:#fff;font-size:10px}svg .tick{fill:#555;font-size:10px}svg .val{fill:#333}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eee;vertical-align:top}th{background:#f6f7f9;position:sticky;top:0}
code{font:11px ui-monospace,monospace}.note{color:#666;font-size:12px}input[type=search]{padding:4px 8px;width:280px;margin-bottom:6px}
`;

// Filters the layer table by any text in a row (no network, no libraries).
const JS = `
document.getElementById('layer-filter').addEventListener('input', function (e) {
  var q = e.target.value.toLowerCase();
  var rows = document.querySelectorAll('#layers tbody tr');
  var shown = 0;
  rows.forEach(function (r) { var on = r.textContent.toLowerCase().indexOf(q) >= 0; r.style.display = on ? '' : 'none'; if (on) shown++; });
  document.getElementById('layer-count').textContent = shown + ' of ' + rows.length + ' layers';
});
`;

function figure(key: string, value: number, text: string, caption: string): string {
  return `<div class="fig" data-figure="${key}" data-value="${value}"><div class="v">${esc(text)}</div><div class="k">${esc(caption)}</div></div>`;
}

/** The summary figures, each carrying plan.json's number in data-value. */
export function summaryFigures(plan: PlanJson): string {
  const c = plan.cost;
  const throughput = plan.batch / c.stepTimeSeconds;
  return [
    figure('step-time', c.stepTimeSeconds, secondsText(c.stepTimeSeconds), 'step time'),
    figure('throughput', throughput, `${throughput.toFixed(1)} /s`, `samples per second at batch ${plan.batch}`),
    figure('devices', plan.cluster.devices, String(plan.cluster.devices), `devices (${plan.cluster.hosts} host${plan.cluster.hosts === 1 ? '' : 's'} of ${plan.cluster.device})`),
    figure('stages', plan.stages.length, String(plan.stages.length), `pipeline stage${plan.stages.length === 1 ? '' : 's'}, ${plan.schedule.microbatches} micro-batch${plan.schedule.microbatches === 1 ? '' : 'es'}`),
    figure('memory', c.peakMemoryBytesPerDevice, bytesText(c.peakMemoryBytesPerDevice), `peak memory per device of ${bytesText(c.memoryLimitBytesPerDevice)}`),
    figure('memory-limit', c.memoryLimitBytesPerDevice, bytesText(c.memoryLimitBytesPerDevice), 'memory limit per device'),
    figure('communication', c.communicationBytesPerStep, bytesText(c.communicationBytesPerStep), 'communication per step'),
    figure('bubble', c.bubbleSeconds, secondsText(c.bubbleSeconds), `pipeline bubble (${((100 * c.bubbleSeconds) / c.stepTimeSeconds).toFixed(1)}% of the step)`),
  ].join('');
}

function layerRow(l: LayerExplanation): string {
  const weights = l.weights.map((w) => `<code>${esc(w.name)}</code> ${esc(w.sharding)}`).join('<br>');
  const colls = l.collectives.length === 0 ? 'none' : `${l.collectives.length}: ${esc(bytesText(l.collectiveBytes))}, ${esc(secondsText(l.collectiveSeconds))}<br><span class="note">${esc([...new Set(l.collectives.map((c) => c.kind))].join(', '))}</span>`;
  const alt = l.alternative ? `${esc(l.alternative.strategy)}: +${esc(secondsText(l.alternative.extraSeconds))}` : '-';
  const words = l.weights[0]?.words ?? '';
  return (
    `<tr data-layer="${esc(l.layer)}"><td>${l.stage}</td><td><code>${esc(l.layer)}</code></td><td>${esc(l.op ?? '-')}</td><td>${weights}</td>` +
    `<td title="${esc(words)}">${esc(l.pattern)}</td><td>${l.activation ? esc(l.activation.sharding) : '-'}</td><td>${colls}</td><td>${alt}</td></tr>`
  );
}

export function renderReport(plan: PlanJson): string {
  const timeline = planTimeline(plan);
  const explanation = explainPlan(plan);
  const scheduleText = plan.schedule.kind === 'none' ? 'one stage, no pipelining' : `${plan.schedule.kind.toUpperCase()}, ${plan.schedule.microbatches} micro-batches`;
  const gantt = timeline
    ? `${ganttSvg(timeline)}<div>${ganttLegend()}</div><p class="note">${esc(scheduleText)}: the planner's schedule replayed with its stage costs (${plan.mode === 'train' ? 'forward and backward per micro-batch, then one update per stage' : 'the forward pass'}); it ends at ${esc(secondsText(timeline.stepSeconds))}.</p>`
    : '<p class="note">plan.json has no stage costs (written by an older version): compile again to see the timeline.</p>';
  const pipelined = plan.stages.length > 1;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>autopar report: ${esc(plan.model)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(plan.model)}</h1>
<p class="sub">${esc(plan.mode)}, strategy <b>${esc(plan.strategy)}</b>, batch ${plan.batch}, on ${plan.cluster.devices} x ${esc(plan.cluster.device)}; solver ${esc(plan.solver.name)} ${esc(plan.solver.status)} (gap ${plan.solver.gap.toExponential(1)}); cost model ${esc(plan.cost.costModel)}</p>
<section><h2>Summary</h2><div class="figs" id="summary">${summaryFigures(plan)}</div></section>
<section><h2>Device mesh</h2>${meshSvg(plan)}<div>${stageLegend(plan)}</div></section>
<section><h2>Pipeline timeline</h2>${gantt}</section>
<section><h2>Cost breakdown</h2>${costSvg(plan)}<p class="note">${pipelined ? 'Compute and communication are summed over the stages (each stage runs its own); the step is the simulated schedule, bubble included.' : 'Step = compute + communication (not overlapped).'}</p></section>
<section><h2>Memory per device</h2>${memorySvg(plan)}<p class="note">The planner's resident estimate: parameters, optimizer states, gradients and saved activations${pipelined ? ' (with the micro-batches each stage holds in flight)' : ''}.</p></section>
<section><h2>Sharding per layer</h2><input type="search" id="layer-filter" placeholder="filter layers"> <span class="note" id="layer-count">${explanation.layers.length} layers</span>
<table id="layers"><thead><tr><th>stage</th><th>layer</th><th>op</th><th>weights</th><th>parallelism</th><th>output</th><th>collectives</th><th>best alternative</th></tr></thead>
<tbody>${explanation.layers.map(layerRow).join('')}</tbody></table>
<p class="note">Layouts per tensor dimension: '-' whole, axes splitting it, '+axis' a partial sum. Best alternative: the op's cheapest other strategy with the rest of the plan fixed. <code>autopar explain</code> says the same in words.</p></section>
<script>${JS}</script>
</body></html>
`;
}

/** Writes DIR/report.html atomically (temporary file, then rename), as plan.json is. */
export function writeReport(dir: string, plan: PlanJson): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'report.html');
  const tmp = path.join(dir, `.report.html.tmp-${process.pid}`);
  fs.writeFileSync(tmp, renderReport(plan));
  fs.renameSync(tmp, file);
  return file;
}
