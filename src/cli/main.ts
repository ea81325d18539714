#!/usr/bin/env node
/** The `autopar` command line: a thin layer over the library (see CLI.md in docs/). */
import { prewarmFor } from './prewarm.js';

// A pipeline search's planning threads load their modules while this thread loads the
// command line's (program.js and everything it imports): see plan-threads.ts.
prewarmFor(process.argv.slice(2));
await import('./program.js');
