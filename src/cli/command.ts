/** What every `express-micro` command is, and what it is given to run. */

/**
 * What a command reads and writes besides its arguments. The bin passes the process's own
 * (runtime/process); tests pass their own, so commands run in-process there.
 */
export interface CommandContext {
  /** The folder relative paths are resolved against. */
  readonly cwd: string;
  /** Standard output: results (a generated file without `--out`, help). */
  out(text: string): void;
  /** Standard error: progress and the one-line error. */
  error(text: string): void;
  /**
   * Aborted when the command should stop: the bin aborts it on SIGINT and SIGTERM, tests abort
   * it themselves. Long-running commands (`watch`, `dashboard`) end cleanly, exit code 0.
   */
  readonly signal?: AbortSignal;
  /** Standard output is a terminal (so redrawing in place with ANSI codes is fine). Default: false. */
  readonly isTerminal?: boolean;
  /** The terminal's width in columns, when it is one. */
  readonly columns?: number;
}

/** One command of the `express-micro` bin. */
export interface Command {
  /** The word after `express-micro`. */
  readonly name: string;
  /** One line for the list of commands. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** Runs with the arguments after the command's name; resolves with the exit code. */
  run(argv: readonly string[], context: CommandContext): Promise<number>;
}
