/**
 * How a caller says which route it means, and how a callee says it does not serve it
 * (docs/ARCHITECTURE.md, "A call": a stale table is not a failed call).
 */

/** The request header naming the route a call means: `METHOD /path/:template`. */
export const ROUTE_HEADER = 'x-micro-route';

/**
 * The answer of an instance that does not serve the route a call named: 421 Misdirected Request
 * ("the request was directed at a server that is not able to produce a response"), which an
 * Express app does not answer on its own, with a content type of this library's. Both must match:
 * an application's 404, or any answer its handlers give, is never taken for it.
 */
export const MISROUTED_STATUS = 421;

/** The content type of the {@link MISROUTED_STATUS} answer. */
export const MISROUTED_TYPE = 'application/vnd.express-micro.misrouted+json';

const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * The value of {@link ROUTE_HEADER} for a route: `METHOD path`, the path percent-encoded when it
 * holds characters a header cannot carry. Caller and callee both make it with this.
 */
export function routeHeaderValue(method: string, path: string): string {
  return PRINTABLE.test(path) ? `${method} ${path}` : `${method} ${encodeURI(path)}`;
}
