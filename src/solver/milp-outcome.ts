/** What an ILP backend reports, in its own (scaled, shifted) objective units. */
export type MilpOutcome =
  | { readonly status: 'optimal'; readonly values: Float64Array; readonly bound: number | undefined }
  /** Stopped by the time limit; `values` is the incumbent, if there is one. */
  | { readonly status: 'time-limit'; readonly values: Float64Array | undefined; readonly bound: number | undefined }
  | { readonly status: 'infeasible' };
