import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown by `expressMicro()` at once when an option is wrong: a peer that is not an http(s) URL,
 * a negative interval, an unparsable allow-list entry, an unusable secret. `option` names it.
 */
export class OptionError extends ExpressMicroError {
  /** Always `'OptionError'`. */
  override name: string = 'OptionError';
  /** The name of the offending option, for example `peers`. */
  readonly option: string;

  /** Made by `expressMicro()`; `message` says what is wrong with `option`, never its secret value. */
  constructor(option: string, message: string, cause?: unknown) {
    super(`express-micro: option \`${option}\` ${message}`, { cause });
    this.option = option;
  }
}
