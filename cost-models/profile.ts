/**
 * A profile: throughput measured on one machine (`autopar profile`), as JSON. Samples
 * are kept raw so that the calibrated model (and a reader) can see what was measured;
 * the rates in `summary` are for people and are recomputed on load.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import * as z from 'zod';
import { AutoparError } from '../src/errors.js';
import { formatPath } from '../src/cluster/load.js';
import { PROFILED_COLLECTIVES } from './collective-bench.js';

/** 2: `collectives` measured; version 1 files (collectives always null) still load. */
export const PROFILE_VERSION = 2;

/** The kinds measured; every other op kind is predicted from these (calibrated.ts). */
export const PROFILED_KINDS = ['matmul', 'conv', 'elementwise'] as const;
export type ProfiledKind = (typeof PROFILED_KINDS)[number];

const sample = z.strictObject({
  /** e.g. '512x512x512' */
  label: z.string(),
  flops: z.number().nonnegative(),
  bytes: z.number().nonnegative(),
  /** Median seconds per call. */
  seconds: z.number().positive(),
});

const collectiveKind = z.enum(PROFILED_COLLECTIVES);
const ranks = z.number().int().min(2);

/** One measured size: the slowest rank's median seconds per call. */
const collectivePoint = z.strictObject({
  kind: collectiveKind,
  ranks,
  /** nccl-tests bytes (all-gather: the gathered output). */
  bytes: z.number().positive(),
  seconds: z.number().positive(),
});

/** time = alpha + factor(kind, ranks)·bytes·beta over the points of one kind and rank count (alpha-beta.ts). */
const collectiveFit = z.strictObject({
  kind: collectiveKind,
  ranks,
  /** Seconds per call. */
  alpha: z.number().nonnegative(),
  /** Seconds per byte of the link (bytes × the ring's bus-bandwidth factor). */
  beta: z.number().positive(),
  maxRelError: z.number().nonnegative(),
});

const collectivesSchema = z
  .strictObject({
    /** autopar's runtime transport that ran them: 'threads' (shared memory) or 'mpi'. */
    transport: z.enum(['threads', 'mpi']),
    /** Collectives are timed on the wall clock by every rank (they wait for each other). */
    clock: z.literal('wall'),
    points: z.array(collectivePoint).min(2),
    fits: z.array(collectiveFit).min(1),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.fits.forEach((f, i) => {
      const key = `${f.kind} x${f.ranks}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['fits', i], message: `a second fit for ${key}; expected one per kind and rank count` });
      seen.add(key);
    });
  });

const profileSchema = z.strictObject({
  version: z.union([z.literal(1), z.literal(PROFILE_VERSION)]),
  createdAt: z.string(),
  /** The tfjs backend that ran the kernels, e.g. 'wasm'. */
  backend: z.string(),
  /** 'cpu': this process's CPU time (single-threaded backends); 'wall': elapsed time. */
  clock: z.enum(['cpu', 'wall']),
  machine: z.strictObject({
    platform: z.string(),
    arch: z.string(),
    cpus: z.number().int().positive(),
    cpuModel: z.string(),
    totalMemoryBytes: z.number().positive(),
    node: z.string(),
  }),
  /** All kernels ran in this dtype. */
  dtype: z.literal('float32'),
  samples: z.strictObject({
    matmul: z.array(sample).min(1),
    conv: z.array(sample).min(1),
    elementwise: z.array(sample).min(1),
  }),
  summary: z.strictObject({
    matmulFlops: z.number().positive(),
    convFlops: z.number().positive(),
    memoryBandwidth: z.number().positive(),
  }),
  /** Collectives on autopar's runtime (collective-profiler.ts); null in profiles written before it measured them. */
  collectives: collectivesSchema.nullable(),
});

export type Profile = z.output<typeof profileSchema>;
export type ProfileSample = z.output<typeof sample>;
export type CollectiveProfile = z.output<typeof collectivesSchema>;
export type CollectivePoint = z.output<typeof collectivePoint>;
export type CollectiveFit = z.output<typeof collectiveFit>;

export function parseProfile(text: string, fileName: string): Profile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new AutoparError('E_CLUSTER', `${fileName}: not a JSON profile (${e instanceof Error ? e.message : String(e)}); write one with 'autopar profile --out FILE'`);
  }
  const r = profileSchema.safeParse(data);
  if (!r.success) {
    const iss = r.error.issues[0];
    const where = iss ? formatPath(iss.path) : '(top level)';
    throw new AutoparError('E_CLUSTER', `${fileName}: ${where}: ${iss?.message ?? 'invalid'}; expected a profile written by 'autopar profile' (version 1 or ${PROFILE_VERSION})`);
  }
  return r.data;
}

export function loadProfile(path: string): Profile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : 'unreadable';
    throw new AutoparError('E_CLUSTER', `${path}: cannot read profile (${code === 'ENOENT' ? 'no such file' : code}); write one with 'autopar profile --out ${path}'`);
  }
  return parseProfile(text, path);
}

/** Writes to a temporary name beside the target, then renames: readers never see half a file. */
export function saveProfile(profile: Profile, path: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, JSON.stringify(profile, null, 2) + '\n');
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
    throw new AutoparError('E_USAGE', `cannot write profile to ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
