import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown when a 2xx answer read whole (any `responseType` but `'stream'`) is longer than the
 * `maxResponseBytes` option: the rest is not read and the connection is closed. Carries `url`
 * and `limit`. Ask for `responseType: 'stream'` to read a larger answer at the caller's pace.
 */
export class ResponseTooLargeError extends ExpressMicroError {
  /** The full URL of the request. */
  readonly url: string;
  /** The `maxResponseBytes` the answer went past. */
  readonly limit: number;

  /** Made by the `services` proxy; `cause` is the transport's error. */
  constructor(service: string, call: string, url: string, limit: number, cause?: unknown) {
    super(`express-micro: ${service}.${call} got an answer larger than maxResponseBytes (${limit} bytes) from ${url}; use responseType: 'stream' to read it`, { service, call, cause });
    // Set here, not as a class field: the CommonJS build rewrites classes with field
    // initializers into anonymous ones, and their name would be lost.
    this.name = 'ResponseTooLargeError';
    this.url = url;
    this.limit = limit;
  }
}
