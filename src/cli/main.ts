/**
 * The `express-micro` command line: `express-micro <command> [options]`. This file only
 * dispatches; each command lives in commands/ and is listed in commands/index.ts, so a new one
 * is a folder and a line there.
 */
import { readEnv } from '../runtime/index.ts';
import type { CommandContext } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { CliError, EXIT } from './errors.ts';

export type { Command, CommandContext } from './command.ts';
export { EXIT } from './errors.ts';

/** Set to 1 to get a failure's stack trace on stderr as well (for bug reports). */
const DEBUG_ENV = 'EXPRESS_MICRO_DEBUG';

function usage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    'Usage: express-micro <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Run `express-micro <command> --help` for its options.',
    '',
    'Exit codes: 0 done; 1 a negative answer (types --check: out of date; status: an instance is not',
    'UP; call: the call failed); 2 bad input, no peer reached, a refused secret or another error (one',
    'line on stderr). watch runs until Ctrl-C or SIGTERM (0), or 2 once no peer has answered for a while.',
    '',
  ].join('\n');
}

/**
 * Runs one command line (the arguments after `express-micro`) and resolves with the exit code.
 * Never throws: every failure becomes one line on `context.error` and a non-zero code.
 */
export async function main(argv: readonly string[], context: CommandContext): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    context.error(usage());
    return EXIT.error;
  }
  if (first === '--help' || first === '-h' || (first === 'help' && rest.length === 0)) {
    context.out(usage());
    return EXIT.ok;
  }
  const wanted = first === 'help' ? rest[0] : first;
  const command = COMMANDS.find((candidate) => candidate.name === wanted);
  if (command === undefined) {
    context.error(`express-micro: unknown command ${JSON.stringify(wanted)} (commands: ${COMMANDS.map((c) => c.name).join(', ')}; see express-micro --help)\n`);
    return EXIT.error;
  }
  if (first === 'help') {
    context.out(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, context);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // One line: a message from deep down may carry newlines of its own.
    context.error(`express-micro ${command.name}: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    if (readEnv(DEBUG_ENV) === '1' && error instanceof Error && error.stack !== undefined) context.error(`${error.stack}\n`);
    return error instanceof CliError ? error.exitCode : EXIT.error;
  }
}
