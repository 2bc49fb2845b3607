#!/usr/bin/env node
/**
 * The `express-micro` bin (package.json "bin"; tsup builds it to dist/cli.js, apart from the
 * library's entries so that neither the library nor JSR pulls in the command line).
 */
import { commandArguments, outputIsTerminal, setExitCode, stopSignal, terminalColumns, workingDirectory, writeError, writeOut } from '../runtime/process/index.ts';
import { main } from './main.ts';

// SIGINT/SIGTERM abort the signal: `watch` and `dashboard` stop cleanly, with exit code 0.
const stop = stopSignal();
try {
  setExitCode(
    await main(commandArguments(), {
      cwd: workingDirectory(),
      out: writeOut,
      error: writeError,
      signal: stop.signal,
      isTerminal: outputIsTerminal(),
      columns: terminalColumns(),
    }),
  );
} finally {
  stop.dispose();
}
