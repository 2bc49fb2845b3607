/**
 * The command line's view of its process: arguments, output streams and exit code. Only the
 * `express-micro` command imports this (the library itself never reads argv or exits), so it is
 * not exported from runtime/index.ts and stays out of the library's module graph.
 */

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
