/**
 * The command line's view of its process: arguments, output streams and exit code. Only the
 * `express-micro` command imports this (the library itself never reads argv or exits), so it is
 * not exported from runtime/index.ts and stays out of the library's module graph.
 */
import { after } from '../timers/index.ts';

/** The arguments after the script: `express-micro types --peer …` gives `['types', '--peer', …]`. */
export function commandArguments(): string[] {
  return process.argv.slice(2);
}

/** Writes to standard output. */
export function writeOut(text: string): void {
  process.stdout.write(text);
}

/** Writes to standard error. */
export function writeError(text: string): void {
  process.stderr.write(text);
}

/**
 * Sets the code the process exits with once its work is done. The process is not ended here:
 * pending output is flushed first, and nothing keeps it alive afterwards.
 */
export function setExitCode(code: number): void {
  process.exitCode = code;
}

/** The folder relative paths on the command line are resolved against. */
export function workingDirectory(): string {
  return process.cwd();
}

/** Whether standard output is a terminal (not a pipe or a file): what may redraw in place. */
export function outputIsTerminal(): boolean {
  return process.stdout.isTTY === true;
}

/** The terminal's width in columns, or undefined when standard output is not a terminal. */
export function terminalColumns(): number | undefined {
  const columns = process.stdout.columns;
  return typeof columns === 'number' && columns > 0 ? columns : undefined;
}

/** How long a command has to finish after SIGINT/SIGTERM before the process is ended anyway. */
const STOP_GRACE_MS = 2000;

/**
 * A signal aborted on the first SIGINT (Ctrl-C) or SIGTERM, so a long-running command can stop
 * cleanly (exit code 0). Listening replaces the default (the process ending at once), so that
 * a command which does not watch the signal (one waiting on a slow peer) is not left running:
 * the process ends with 128 + the signal's number (130, 143) if it has not finished 2 s later,
 * and a second signal ends it at once. `dispose()` removes the listeners.
 */
export function stopSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const names = ['SIGINT', 'SIGTERM'] as const;
  const onSignal = (name: NodeJS.Signals): void => {
    dispose();
    controller.abort(new Error(`stopped by ${name}`));
    const code = name === 'SIGINT' ? 130 : 143;
    // Unref'd: a command that stops in time lets the process end on its own, with its own code.
    after(STOP_GRACE_MS, () => process.exit(code));
  };
  const dispose = (): void => {
    for (const name of names) process.off(name, onSignal);
  };
  for (const name of names) process.on(name, onSignal);
  return { signal: controller.signal, dispose };
}
