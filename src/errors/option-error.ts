import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown by `expressMicro()` at once when an option is wrong: a peer that is not an http(s) URL,
 * a negative interval, an unparsable allow-list entry, an unusable secret. `option` names it.
 * Also thrown by a call, before anything is sent, for a per-call option it cannot use: a `body`
 * of a type it cannot send, a `body` on a GET, a stream `body` under `enableHmac`.
 */
export class OptionError extends ExpressMicroError {
  /** The name of the offending option, for example `peers`. */
  readonly option: string;

  /** Made by `expressMicro()`; `message` says what is wrong with `option`, never its secret value. */
  constructor(option: string, message: string, cause?: unknown) {
    super(`express-micro: option \`${option}\` ${message}`, { cause });
    // Set here, not as a class field: the CommonJS build rewrites classes with field
    // initializers into anonymous ones, and their name would be lost.
    this.name = 'OptionError';
    this.option = option;
  }
}
