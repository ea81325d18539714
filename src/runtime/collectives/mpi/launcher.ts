/**
 * Runs a worker program on N processes under mpirun on this machine (one per device), the
 * MPI counterpart of runThreads; across hosts, start mpi-main.js with mpirun or srun
 * directly. mpirun is spawned asynchronously: the caller's event loop keeps running.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CollectiveCounts } from '../communicator.js';
import { compiledSibling, moduleUrl } from '../compiled.js';
import { RunError } from '../errors.js';
import { ERROR_MARK } from './watchdog.js';
import { decode } from './wire.js';

export interface MpiRunOptions {
  readonly processes: number;
  /** Path of the compiled ES module holding the program. */
  readonly module: string;
  readonly exportName?: string;
  /** JSON arguments given to every rank's program. */
  readonly args?: unknown;
  /** Longest single MPI call before the run fails; default 60 s. */
  readonly timeoutMs?: number;
  /** Kill mpirun after this long in all; default timeoutMs + 60 s. */
  readonly runTimeoutMs?: number;
  /** Extra mpirun options (e.g. ['--hostfile', 'hosts']). */
  readonly mpirunArgs?: readonly string[];
}

export interface MpiRunResult {
  readonly results: unknown[];
  readonly counts: CollectiveCounts[];
  readonly seconds: number;
}

/** mpirun on PATH, or undefined (checked without starting a process). */
export function findMpirun(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, 'mpirun');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True in a process started by mpirun (Open MPI, MPICH/PMI, PMIx) or by Slurm's srun. */
export function launchedByMpi(env: NodeJS.ProcessEnv = process.env): boolean {
  return ['OMPI_COMM_WORLD_RANK', 'PMIX_RANK', 'PMI_RANK', 'SLURM_PROCID'].some((k) => env[k] !== undefined);
}

/** The command line that starts `processes` ranks of mpi-main.js on this machine. */
export function mpirunCommand(processes: number, module: string, exportName: string, extra: readonly string[] = []): string[] {
  const asRoot = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];
  return [
    ...asRoot,
    // more ranks than cores is the normal case for tests on a small machine
    '--oversubscribe',
    '-np',
    String(processes),
    ...extra,
    process.execPath,
    compiledSibling(import.meta.url, 'mpi-main.js'),
    module,
    exportName,
  ];
}

interface ErrorLine {
  rank?: number;
  label?: string;
  message?: string;
}

function firstError(stderr: string): ErrorLine | undefined {
  for (const line of stderr.split('\n')) {
    const i = line.indexOf(ERROR_MARK);
    if (i < 0) continue;
    try {
      const parsed: unknown = JSON.parse(line.slice(i + ERROR_MARK.length));
      if (typeof parsed === 'object' && parsed !== null) return parsed as ErrorLine;
    } catch {
      // a line cut by another process's output: try the next
    }
  }
  return undefined;
}

/** mpirun's own report of the first process that died, as a RunError naming its rank. */
function deadProcess(stderr: string): RunError | undefined {
  const exit = /Process name: \[\[\d+,\d+\],(\d+)\]\s*\n\s*Exit code:\s*(\d+)/.exec(stderr);
  if (exit) return new RunError(`rank ${exit[1]}: process exited with code ${exit[2]} before its program finished`, Number(exit[1]));
  const sig = /process rank (\d+) with PID \d+ on node \S+ exited on signal (\d+)(?: \(([^)]+)\))?/.exec(stderr);
  if (sig) return new RunError(`rank ${sig[1]}: process killed by signal ${sig[2]}${sig[3] ? ` (${sig[3]})` : ''}`, Number(sig[1]));
  return undefined;
}

export function runMpi(opts: MpiRunOptions): Promise<MpiRunResult> {
  const mpirun = findMpirun();
  if (!mpirun)
    return Promise.reject(
      new RunError('mpirun is not on PATH: install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) or load the MPI module'),
    );
  const n = opts.processes;
  const url = moduleUrl(opts.module);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'autopar-mpi-'));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AUTOPAR_MPI_OUT: out,
    AUTOPAR_TIMEOUT_MS: String(timeoutMs),
    AUTOPAR_MPI_ARGS: opts.args === undefined ? '' : JSON.stringify(opts.args),
    // containers often forbid the cross-memory attach of Open MPI's shared-memory transport
    OMPI_MCA_btl_vader_single_copy_mechanism: process.env.OMPI_MCA_btl_vader_single_copy_mechanism ?? 'none',
  };
  const started = performance.now();
  return new Promise<MpiRunResult>((resolve, reject) => {
    const child = spawn(mpirun, mpirunCommand(n, url, opts.exportName ?? 'default', opts.mpirunArgs), { env });
    let stderr = '';
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.runTimeoutMs ?? timeoutMs + 60_000);
    const cleanup = (): void => {
      clearTimeout(killer);
      fs.rmSync(out, { recursive: true, force: true });
    };
    child.on('error', (e) => {
      cleanup();
      reject(new RunError(`could not start ${mpirun}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      try {
        if (code !== 0) {
          const e = firstError(stderr);
          const dead = deadProcess(stderr);
          if (e?.message) reject(new RunError(e.message, e.rank, e.label));
          else if (dead) reject(dead);
          else {
            const tail = (stderr || stdout).trim().split('\n').slice(-15).join('\n');
            reject(new RunError(`mpirun ${signal ? `was killed (${signal})` : `exited with code ${code}`}: ${tail}`));
          }
          return;
        }
        const results: unknown[] = [];
        const counts: CollectiveCounts[] = [];
        for (let r = 0; r < n; r++) {
          const file = path.join(out, `rank-${r}.json`);
          if (!fs.existsSync(file)) throw new RunError(`rank ${r} wrote no result (${file}); mpirun output: ${stderr.trim()}`, r);
          const v = decode(fs.readFileSync(file, 'utf8'));
          if (typeof v !== 'object' || v === null || !('counts' in v)) throw new RunError(`rank ${r} wrote a malformed result`, r);
          results.push('result' in v ? v.result : undefined);
          counts.push(v.counts as CollectiveCounts);
        }
        resolve({ results, counts, seconds: (performance.now() - started) / 1000 });
      } catch (e) {
        reject(e);
      } finally {
        cleanup();
      }
    });
  });
}
