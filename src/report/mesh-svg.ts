/**
 * The cluster's devices as a grid, one row per host, each device coloured by the stage
 * it runs (grey: unused), labelled with its id and its place in the stage's mesh.
 */
import type { PlanJson } from '../planner/plan-json.js';
import { esc, stageColour } from './format.js';

const CELL = 46;
const GAP = 6;
const LEFT = 70;

export function meshSvg(plan: PlanJson): string {
  const devices = plan.cluster.devices;
  const hosts = Math.max(1, plan.cluster.hosts);
  const perHost = Math.ceil(devices / hosts);
  const stageOf = new Map<number, number>();
  plan.stages.forEach((s, i) => s.devices.forEach((d) => stageOf.set(d, i)));
  const parts: string[] = [];
  for (let h = 0; h < hosts; h++) {
    const y = GAP + h * (CELL + GAP);
    parts.push(`<text x="${LEFT - 8}" y="${y + CELL / 2 + 4}" text-anchor="end" class="lbl">host ${h}</text>`);
    for (let i = 0; i < perHost; i++) {
      const d = h * perHost + i;
      if (d >= devices) break;
      const s = stageOf.get(d);
      const x = LEFT + i * (CELL + GAP);
      const fill = s === undefined ? '#d0d0d0' : stageColour(s);
      const title = s === undefined ? `device ${d}: unused` : `device ${d}: stage ${s}, mesh [${plan.stages[s]?.mesh.shape.join('x') ?? ''}]`;
      parts.push(
        `<g class="device" data-device="${d}" data-stage="${s ?? ''}"><rect x="${x}" y="${y}" width="${CELL}" height="${CELL}" rx="5" fill="${fill}"><title>${esc(title)}</title></rect>` +
          `<text x="${x + CELL / 2}" y="${y + CELL / 2 + 4}" text-anchor="middle" class="dev">${d}</text></g>`,
      );
    }
  }
  const width = LEFT + perHost * (CELL + GAP) + GAP;
  const height = GAP + hosts * (CELL + GAP);
  return `<svg id="mesh" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${Math.min(width, 960)}" role="img" aria-label="device mesh">${parts.join('')}</svg>`;
}

/** One key per stage: its colour, layers, devices and logical mesh. */
export function stageLegend(plan: PlanJson): string {
  return plan.stages
    .map(
      (s, i) =>
        `<span class="key" data-stage-key="${i}"><i style="background:${stageColour(i)}"></i>stage ${i}: ${plan.stages.length === 1 ? 'all layers' : `layers ${s.layers[0]}-${s.layers[1]}`}, ${s.devices.length} device${s.devices.length === 1 ? '' : 's'}, mesh [${s.mesh.shape.join('x')}] (${esc(s.mesh.axes.join(', '))})</span>`,
    )
    .join('');
}
