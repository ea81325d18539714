/** The command line's commands (main.ts loads this after starting any planning threads). */
import { Command } from 'commander';
import { registerInspect } from './inspect.js';
import { registerEval } from './eval.js';
import { registerCompare, registerCompile } from './compile.js';
import { registerCluster } from './cluster.js';
import { registerProfile } from './profile.js';
import { registerRun } from './run.js';
import { registerWorker } from './worker.js';
import { registerExplain } from './explain.js';
import { registerExamples } from './examples.js';

const program = new Command();
program
  .name('autopar')
  .description('Auto-parallelization compiler for deep learning: ONNX + cluster -> sharded per-device programs')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride((err) => {
    // commander's own usage errors: exit 2 like other usage errors; help/version exit 0.
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

registerInspect(program);
registerEval(program);
registerCompile(program);
registerCompare(program);
registerExplain(program);
registerCluster(program);
registerRun(program);
registerWorker(program);
registerProfile(program);
registerExamples(program);

await program.parseAsync(process.argv);
