/** Text for the HTML report: escaping, and the units the CLI prints. */
export { bytesText, secondsText } from '../explain/text.js';

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Every string from the model or the plan goes through this: names may hold `<` or `&`. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** Distinct, readable colours for stages (cycled when there are more). */
const STAGE_COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function stageColour(stage: number): string {
  return STAGE_COLOURS[stage % STAGE_COLOURS.length] ?? '#888';
}
