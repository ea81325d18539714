/**
 * The error every transport raises when a collective cannot complete: it names the rank that
 * saw the problem, the kind of collective and its label (the instruction it serves), so a
 * failed run points at a line of a device program rather than at a hang.
 */
import type { CollectiveKind } from './communicator.js';

export class CollectiveError extends Error {
  readonly rank: number;
  readonly kind: CollectiveKind | undefined;
  readonly label: string | undefined;
  /** Set when this error only reports that another rank failed first. */
  readonly culprit: number | undefined;
  constructor(rank: number, kind: CollectiveKind | undefined, label: string | undefined, detail: string, culprit?: number) {
    super(`rank ${rank}${kind ? `: ${kind}${label ? ` '${label}'` : ''}` : ''}: ${detail}`);
    this.name = 'CollectiveError';
    this.rank = rank;
    this.kind = kind;
    this.label = label;
    this.culprit = culprit;
  }
}

/** Thrown by a launcher when a run ends badly: `rank` is the worker the failure started at. */
export class RunError extends Error {
  readonly rank: number | undefined;
  readonly label: string | undefined;
  constructor(message: string, rank?: number, label?: string) {
    super(message);
    this.name = 'RunError';
    this.rank = rank;
    this.label = label;
  }
}
