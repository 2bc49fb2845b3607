import type { ExpressApp, IncomingRequest, Middleware, OutgoingResponse } from '../express.ts';

const PREFIX = '/_discovery';

/** Express's `app.handle(req, res, callback)`, which runs the app's whole middleware stack. */
type Handle = (this: unknown, request: IncomingRequest, response: OutgoingResponse, callback?: unknown) => unknown;

function isDiscovery(url: string): boolean {
  if (!url.startsWith(PREFIX)) return false;
  const next = url.charCodeAt(PREFIX.length);
  return Number.isNaN(next) || next === 0x2f /* / */ || next === 0x3f /* ? */;
}

/**
 * Serves `/_discovery` ahead of everything the app mounts: `app.handle` (Express 4 and 5 both call
 * it for every request) is wrapped so that discovery requests never pass through the app's own
 * middleware. A rate limiter would otherwise throttle pings (peers then go DOWN), a request
 * logger would log every one, and a catch-all 404 mounted first would hide the endpoints. See
 * docs/ARCHITECTURE.md, "Discovery". Paths under `/_discovery` that are not endpoints
 * go on to the app as before. Apps without `handle` get an ordinary `app.use` mount (and no
 * `around`: their requests carry no deadline context; no `answered`: see route-guard.ts).
 * `answered` sees every other request first: true when it has answered it (a call naming a
 * route this instance does not serve), and the app then never sees it.
 */
export function mountDiscovery(
  app: ExpressApp,
  handler: Middleware,
  around?: (request: IncomingRequest, next: () => unknown) => unknown,
  answered?: (request: IncomingRequest, response: OutgoingResponse) => boolean,
): void {
  const original = app.handle as Handle | undefined;
  if (typeof original !== 'function') {
    app.use(PREFIX, handler);
    return;
  }
  app.handle = function handleDiscoveryFirst(this: unknown, request: IncomingRequest, response: OutgoingResponse, callback?: unknown): unknown {
    const url = request.url;
    if (!isDiscovery(url)) {
      if (answered?.(request, response)) return undefined;
      // `around` runs the app's handling in the request's context (its deadline).
      return around ? around(request, () => original.call(this, request, response, callback)) : original.call(this, request, response, callback);
    }
    // As `app.use('/_discovery', …)` would: the handler sees the path below the prefix.
    request.originalUrl ??= url;
    request.url = url.slice(PREFIX.length) || '/';
    if (request.url[0] === '?') request.url = `/${request.url}`;
    handler(request, response, (error?: unknown) => {
      request.url = url;
      if (error === undefined) {
        original.call(this, request, response, callback);
        return;
      }
      if (response.headersSent !== true) {
        response.statusCode = 500;
        response.setHeader('content-type', 'application/json; charset=utf-8');
        response.end(JSON.stringify({ error: 'internal error' }));
      }
    });
    return undefined;
  };
}
