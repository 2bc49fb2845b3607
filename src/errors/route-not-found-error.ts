import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown by a call whose name the remote service does not publish. The message and `available`
 * list the call names that do exist, so a typo is easy to spot.
 */
export class RouteNotFoundError extends ExpressMicroError {
  /** Every call name the service publishes. */
  readonly available: readonly string[];

  /** Made by the `services` proxy; `available` lists the call names the service has. */
  constructor(service: string, call: string, available: readonly string[]) {
    super(
      `express-micro: service "${service}" has no route named "${call}"; it has: ${available.join(', ') || '(no routes)'}`,
      { service, call },
    );
    // Set here, not as a class field: the CommonJS build rewrites classes with field
    // initializers into anonymous ones, and their name would be lost.
    this.name = 'RouteNotFoundError';
    this.available = available;
  }
}
