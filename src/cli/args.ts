/**
 * A small parser for `--flag value`, `--flag=value` and boolean `--flag` options, shared by every
 * command. It keeps the order the options came in, because some pair up (`--app a.ts --name a`).
 */
import { CliError } from './errors.ts';

/** How one option is written. */
export interface OptionSpec {
  /** `string` takes a value; `boolean` is a bare flag. */
  readonly kind: 'string' | 'boolean';
  /** May be given more than once. */
  readonly repeatable?: boolean;
}

/** One option as given, in order. `value` is `true` for a boolean flag. */
export interface GivenOption {
  readonly name: string;
  readonly value: string | true;
}

/** A command line split into its options (in order) and its positional arguments. */
export interface ParsedCommandLine {
  readonly options: GivenOption[];
  /** The words that are not options nor their values, in order. */
  readonly positionals: string[];
}

/**
 * Parses `argv` against `spec` (keys without the leading `--`). `-h` is `--help`. Anything
 * that is not a known option, a value missing, a flag given a value or a single option given
 * twice is a {@link CliError} naming it. Commands take no positional arguments here: see
 * {@link parseCommandLine} for those that do.
 */
export function parseOptions(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>): GivenOption[] {
  return parseCommandLine(argv, spec, 0).options;
}

/**
 * {@link parseOptions} for a command that also takes up to `maxPositionals` positional arguments:
 * words that do not start with `--` (and are not an option's value), anywhere on the line, and
 * every word after a lone `--` (so a positional may start with `--`). One too many is a
 * {@link CliError} naming it; how many are required is the command's business.
 */
export function parseCommandLine(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>, maxPositionals: number): ParsedCommandLine {
  const given: GivenOption[] = [];
  const positionals: string[] = [];
  const seen = new Set<string>();
  const positional = (word: string): void => {
    if (positionals.length >= maxPositionals) {
      throw new CliError(maxPositionals === 0 ? `unexpected argument ${JSON.stringify(word)} (options start with --)` : `unexpected argument ${JSON.stringify(word)} (at most ${maxPositionals} arguments besides options)`);
    }
    positionals.push(word);
  };
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index] as string;
    if (word === '-h') {
      given.push({ name: 'help', value: true });
      continue;
    }
    if (word === '--' && maxPositionals > 0) {
      for (const rest of argv.slice(index + 1)) positional(rest);
      break;
    }
    if (!word.startsWith('--') || word === '--') {
      positional(word);
      continue;
    }
    const equals = word.indexOf('=');
    const name = word.slice(2, equals === -1 ? undefined : equals);
    const option = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (option === undefined) throw new CliError(`unknown option --${name}`);
    if (seen.has(name) && option.repeatable !== true) throw new CliError(`--${name} is given twice`);
    seen.add(name);
    if (option.kind === 'boolean') {
      if (equals !== -1) throw new CliError(`--${name} takes no value`);
      given.push({ name, value: true });
      continue;
    }
    let value: string | undefined;
    if (equals !== -1) value = word.slice(equals + 1);
    else {
      const next = argv[index + 1];
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        index++;
      }
    }
    if (value === undefined || value === '') throw new CliError(`--${name} needs a value`);
    given.push({ name, value });
  }
  return { options: given, positionals };
}
