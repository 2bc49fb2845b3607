import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown by a call whose name two or more routes of the service claim. `routes` lists them as
 * `METHOD /path`; call one directly with `services.x.$call(method, path, args)`.
 */
export class AmbiguousRouteError extends ExpressMicroError {
  /** The routes that share the name, as `METHOD /path`. */
  readonly routes: readonly string[];

  /** Made by the `services` proxy; `routes` are the claimants as `METHOD /path`. */
  constructor(service: string, call: string, routes: readonly string[]) {
    super(
      `express-micro: "${call}" on service "${service}" is ambiguous: ${routes.join(', ')}; use $call(method, path, args) to pick one`,
      { service, call },
    );
    // Set here, not as a class field: the CommonJS build rewrites classes with field
    // initializers into anonymous ones, and their name would be lost.
    this.name = 'AmbiguousRouteError';
    this.routes = routes;
  }
}
