/**
 * How the `express-micro` command fails: one line on stderr and an exit code, never a stack
 * trace (docs/ARCHITECTURE.md, "Command line").
 */

/**
 * The exit codes of every command; `--help` and the README list them. 1 is a command's own
 * negative answer (`types --check`: out of date; `status`: an instance is not UP; `call`: the call
 * failed), 2 is bad input or not getting an answer at all.
 */
export const EXIT: { readonly ok: 0; readonly outOfDate: 1; readonly failed: 1; readonly error: 2 } = { ok: 0, outOfDate: 1, failed: 1, error: 2 };

/** A failure the user can act on: its message is printed as it is, after the command's name. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  /** The code the process exits with: {@link EXIT}.error unless said otherwise. */
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.error, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}
