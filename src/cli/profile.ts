/** `autopar profile [--out FILE] [--json] [--quick] [--transport threads|mpi] [--no-collectives]`: measure this machine for the calibrated cost model. */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CollectiveProfile } from '../../cost-models/profile.js';
import { formatBandwidth, formatFlops, formatTime } from '../cluster/units.js';
import { AutoparError } from '../errors.js';
import { printJson, runCommand } from './output.js';

/** Fails before measuring (which takes a while) if the profile could not be written. */
function checkWritable(out: string): void {
  const dir = dirname(out);
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    accessSync(dir, constants.W_OK);
  } catch (e) {
    const why = e instanceof Error && 'code' in e && e.code === 'ENOENT' ? 'no such directory' : e instanceof Error ? e.message : String(e);
    throw new AutoparError('E_USAGE', `cannot write profile to ${out}: ${dir}: ${why}`);
  }
}

export const DEFAULT_PROFILE_FILE = 'autopar-profile.json';

function transportOption(value: string): 'threads' | 'mpi' {
  if (value === 'threads' || value === 'mpi') return value;
  throw new AutoparError('E_USAGE', `--transport ${value}: expected threads (worker threads over shared memory, the default) or mpi (processes under mpirun)`);
}

function collectiveLines(c: CollectiveProfile | null): string[] {
  if (c === null) return ['  collectives not measured (--no-collectives)'];
  return c.fits.map(
    (f) =>
      `  ${`${f.kind} x${f.ranks}`.padEnd(18)} alpha ${formatTime(f.alpha)}, link ${formatBandwidth(1 / f.beta)} (${c.transport}; fit within ${(f.maxRelError * 100).toFixed(0)}% over ${c.points.filter((p) => p.kind === f.kind && p.ranks === f.ranks).length} sizes)`,
  );
}

export function registerProfile(program: Command): void {
  program
    .command('profile')
    .description('measure matmul, conv and elementwise throughput on the active tfjs backend and the collectives of autopar\'s runtime, and write a profile for --profile')
    .option('--out <file>', 'where to write the profile JSON', DEFAULT_PROFILE_FILE)
    .option('--quick', 'fewer, smaller sizes (a few seconds)')
    .option('--transport <kind>', 'runtime transport whose collectives are measured: threads (default) or mpi', 'threads')
    .option('--no-collectives', 'skip the collectives (writes collectives: null)')
    .option('--json', 'print the profile as JSON')
    .option('--debug', 'print stack traces on errors')
    .action(async (opts: { out: string; quick?: boolean; transport: string; collectives: boolean; json?: boolean; debug?: boolean }) => {
      await runCommand(opts.debug === true, async () => {
        const transport = transportOption(opts.transport);
        const out = resolve(opts.out);
        checkWritable(out);
        const log = opts.json ? undefined : (line: string): void => void process.stderr.write(`  ${line}\n`);
        // Loaded when the command runs, not at start-up: they bring tfjs in (see main.ts).
        const { saveProfile } = await import('../../cost-models/profile.js');
        const { measureProfile } = await import('../../cost-models/profiler.js');
        const profile = await measureProfile({ quick: opts.quick === true, collectives: opts.collectives, transport, ...(log ? { log } : {}) });
        saveProfile(profile, out);
        if (opts.json) {
          printJson({ file: out, ...profile });
          return;
        }
        const s = profile.summary;
        process.stdout.write(
          [
            `profile of ${profile.machine.cpuModel} (${profile.machine.cpus} cpus), tfjs backend ${profile.backend}, ${profile.dtype}:`,
            `  matmul      ${formatFlops(s.matmulFlops)} (best of ${profile.samples.matmul.length} sizes)`,
            `  conv        ${formatFlops(s.convFlops)} (best of ${profile.samples.conv.length} sizes)`,
            `  elementwise ${formatBandwidth(s.memoryBandwidth)} (best of ${profile.samples.elementwise.length} sizes)`,
            ...collectiveLines(profile.collectives),
            `written to ${out}; use it with --profile ${opts.out}`,
          ].join('\n') + '\n',
        );
      });
    });
}
