#!/usr/bin/env node
/**
 * The `express-micro` bin (package.json "bin"; tsup builds it to dist/cli.js, apart from the
 * library's entries so that neither the library nor JSR pulls in the command line).
 */
import { commandArguments, setExitCode, workingDirectory, writeError, writeOut } from '../runtime/process/index.ts';
import { main } from './main.ts';

setExitCode(await main(commandArguments(), { cwd: workingDirectory(), out: writeOut, error: writeError }));
