/**
 * The callee's half of "a stale table is not a failed call" (docs/ARCHITECTURE.md, "A call"): a
 * call names the route it means in `x-micro-route`; an instance that does not publish that route
 * answers {@link MISROUTED_STATUS} before the app sees the request, so its handlers never run and
 * the caller may send it elsewhere, whatever the method.
 */
import type { IncomingRequest, OutgoingResponse } from '../express.ts';
import type { RouteDescriptor } from '../routes/index.ts';
import { MISROUTED_STATUS, MISROUTED_TYPE, ROUTE_HEADER, routeHeaderValue } from '../routes/route-header.ts';

/** What the guard needs from the plugin. */
export interface RouteGuardSource {
  /** The routes this instance publishes now. */
  routes(): readonly RouteDescriptor[];
  /** Reads the app's routes again (rate-limited): a route added after the last read is found. */
  refresh(): void;
  /**
   * Whether the request is signed under the cluster's secret, when HMAC is on (else always true), for
   * any audience (a call signed for the process that was at this address before). Asked only
   * before answering 421, so an outsider cannot learn which routes exist; a request that fails it
   * goes on to the app, whose own `requireSignature` refuses it as usual.
   */
  authentic(request: IncomingRequest): boolean;
}

/**
 * Makes the check run for each request: true when it answered (the route named in
 * `x-micro-route` is not published here), false when the request goes on to the app. A request
 * without the header (from a browser, curl, an older caller) goes on untouched.
 */
export function routeGuard(source: RouteGuardSource): (request: IncomingRequest, response: OutgoingResponse) => boolean {
  let known: readonly RouteDescriptor[] | undefined;
  let published = new Set<string>();
  const publishes = (value: string): boolean => {
    const routes = source.routes();
    if (routes !== known) {
      known = routes;
      published = new Set(routes.map((route) => routeHeaderValue(route.method, route.path)));
    }
    return published.has(value);
  };
  return (request, response) => {
    const value = request.headers[ROUTE_HEADER];
    if (typeof value !== 'string' || publishes(value)) return false;
    source.refresh();
    if (publishes(value) || !source.authentic(request)) return false;
    response.statusCode = MISROUTED_STATUS;
    response.setHeader('content-type', MISROUTED_TYPE);
    response.end(JSON.stringify({ error: 'misrouted', reason: `this instance does not serve ${value}` }));
    return true;
  };
}
