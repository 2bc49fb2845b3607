import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown before any request is sent when a call's argument object lacks a path parameter the
 * route needs (`id` for `/users/:id`). `parameter` names it.
 */
export class MissingParameterError extends ExpressMicroError {
  /** The missing path parameter. */
  readonly parameter: string;

  /** Made by the `services` proxy; `path` is the route's path pattern. */
  constructor(service: string, call: string, path: string, parameter: string) {
    super(`express-micro: ${service}.${call} needs "${parameter}" for ${path}`, { service, call });
    // Set here, not as a class field: the CommonJS build rewrites classes with field
    // initializers into anonymous ones, and their name would be lost.
    this.name = 'MissingParameterError';
    this.parameter = parameter;
  }
}
