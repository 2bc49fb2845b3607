import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown by a call when no instance of the service can take it: the name is unknown to the
 * cluster, every instance is DOWN, or every instance tried refused the connection. `known`
 * lists the services this instance does know, to catch a misspelled name.
 */
export class ServiceUnavailableError extends ExpressMicroError {
  /** The service names currently in the membership table. */
  readonly known: readonly string[];

  /** Made by the `services` proxy; `reason` says why no instance could take the call. */
  constructor(service: string, call: string, reason: string, known: readonly string[], cause?: unknown) {
    super(`express-micro: service "${service}" is unavailable for ${call}: ${reason}`, { service, call, cause });
    // Set here, not as a class field: the CommonJS build rewrites classes with field
    // initializers into anonymous ones, and their name would be lost.
    this.name = 'ServiceUnavailableError';
    this.known = known;
  }
}
