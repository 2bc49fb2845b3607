import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown when the remote service answered with a status outside 2xx. Carries the `status`, the
 * `body` (decoded by its content type: JSON parsed, text a string, anything else a `Uint8Array`;
 * from the first 64 KiB of the answer only) and the `url` that answered.
 */
export class RemoteError extends ExpressMicroError {
  /** The HTTP status the remote service answered with. */
  readonly status: number;
  /** The answer's body (its first 64 KiB): parsed JSON, text, or bytes. */
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
