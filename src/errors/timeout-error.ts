import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown when a call got no answer within its timeout (the `timeout` option, the per-call one, or
 * what was left of the deadline of the request it was made for). The request may have been
 * processed; it is not retried. Also thrown, before anything is sent, for a call made when that
 * deadline has already passed (`url` is then the path). Carries `url` and `timeout`.
 */
export class TimeoutError extends ExpressMicroError {
  /** The full URL of the request. */
  readonly url: string;
  /** The timeout that ran out, in milliseconds. */
  readonly timeout: number;

  /** Made by the `services` proxy; `timeout` is in milliseconds. */
  constructor(service: string, call: string, url: string, timeout: number, notSent = false) {
    super(
      notSent
        ? `express-micro: ${service}.${call} was not sent to ${url}: the request it was made for has no time left (its caller's deadline passed)`
        : `express-micro: ${service}.${call} got no answer from ${url} within ${timeout} ms`,
      { service, call },
    );
    // Set here, not as a class field: the CommonJS build rewrites classes with field
    // initializers into anonymous ones, and their name would be lost.
    this.name = 'TimeoutError';
    this.url = url;
    this.timeout = timeout;
  }
}
