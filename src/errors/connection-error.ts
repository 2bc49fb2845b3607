import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown when a call's connection broke after the request may have been sent, on a method
 * that is not retried (POST, PATCH), on a call whose stream `body` had started to be sent, or on
 * the last instance tried; also when a stream `body` itself failed while it was sent. Carries
 * `url`; the transport's error (or the stream's) is the `cause`.
 */
export class ConnectionError extends ExpressMicroError {
  /** The full URL of the request. */
  readonly url: string;

  /** Made by the `services` proxy; `cause` is the transport's error. */
  constructor(service: string, call: string, url: string, cause: unknown) {
    super(`express-micro: ${service}.${call} lost its connection to ${url}`, { service, call, cause });
    // Set here, not as a class field: the CommonJS build rewrites classes with field
    // initializers into anonymous ones, and their name would be lost.
    this.name = 'ConnectionError';
    this.url = url;
  }
}
