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

/**
 * Parses `argv` against `spec` (keys without the leading `--`). `-h` is `--help`. Anything
 * that is not a known option, a value missing, a flag given a value or a single option given
 * twice is a {@link CliError} naming it. Commands take no positional arguments.
 */
export function parseOptions(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>): GivenOption[] {
  const given: GivenOption[] = [];
  const seen = new Set<string>();
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index] as string;
    if (word === '-h') {
      given.push({ name: 'help', value: true });
      continue;
    }
    if (!word.startsWith('--') || word === '--') throw new CliError(`unexpected argument ${JSON.stringify(word)} (options start with --)`);
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
  return given;
}
