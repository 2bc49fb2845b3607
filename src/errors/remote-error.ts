import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown when the remote service answered with a status outside 2xx. Carries the `status`, the
 * parsed `body` (JSON when the answer was JSON, else text) and the `url` that answered.
 */
export class RemoteError extends ExpressMicroError {
  /** The HTTP status the remote service answered with. */
  readonly status: number;
  /** The answer's body: parsed JSON, or text. */
  readonly body: unknown;
  /** The full URL of the request. */
  readonly url: string;

  /** Made by the `services` proxy from the remote's answer. */
  constructor(service: string, call: string, url: string, status: number, body: unknown) {
    super(`express-micro: ${service}.${call} got ${status} from ${url}`, { service, call });
    // Set here, not as a class field: the CommonJS build rewrites classes with field
    // initializers into anonymous ones, and their name would be lost.
    this.name = 'RemoteError';
    this.status = status;
    this.body = body;
    this.url = url;
  }
}
