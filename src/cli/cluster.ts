/** `autopar cluster FILE [--json]`: validate a cluster description and show what was understood. */
import type { Command } from 'commander';
import { loadCluster } from '../cluster/load.js';
import { formatClusterSummary, summarizeCluster } from '../cluster/summary.js';
import { printJson, runCommand } from './output.js';

export function registerCluster(program: Command): void {
  program
    .command('cluster')
    .description('validate a cluster description (cluster.yaml) and print its devices, links and logical meshes')
    .argument('<file>', 'cluster description, e.g. examples/clusters/2x8-a100.yaml')
    .option('--json', 'print JSON (fields in CLI.md)')
    .option('--debug', 'print stack traces on errors')
    .action(async (file: string, opts: { json?: boolean; debug?: boolean }) => {
      await runCommand(opts.debug === true, async () => {
        const summary = summarizeCluster(loadCluster(file));
        if (opts.json) printJson(summary);
        else process.stdout.write(formatClusterSummary(summary) + '\n');
      });
    });
}
