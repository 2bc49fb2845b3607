/**
 * Finds the app behind a mounted sub-app (`app.use('/v2', subApp)`). Express 4 and 5 mount it
 * as a middleware named `mounted_app` that keeps the sub-app only in its closure, so it cannot
 * be read like a router. The one place the sub-app shows itself is the first thing its own
 * `handle` does: `Object.setPrototypeOf(req, subApp.request)` (Express 5 in `app.handle`,
 * Express 4 in its `expressInit` middleware, which always comes first), and `subApp.request.app`
 * is the sub-app.
 *
 * So the closure is called once with a stand-in request, a Proxy that notes the sub-app when
 * Express sets its prototype and from then on has no URL: the router reads the URL next, finds
 * none and hands back to the closure's callback at once, before any of the app's own middleware
 * runs (Express's own query and init middleware are the only code it passes through). Only a
 * function whose name and source are Express's `mounted_app` is called. A sub-app found is kept
 * per closure (the closure is bound to one sub-app for good); a miss (an Express 4 sub-app with
 * no routes yet) is tried again on the next read.
 */

const found = new WeakMap<object, object>();

/** The sub-app a layer's handle mounts, or undefined when the handle is not Express's `mounted_app`. */
export function mountedApp(handle: unknown): object | undefined {
  if (typeof handle !== 'function' || handle.name !== 'mounted_app' || handle.length !== 3) return undefined;
  const known = found.get(handle);
  if (known !== undefined) return known;
  if (!/\bfn\.handle\(req, res,/.test(Function.prototype.toString.call(handle))) return undefined;
  const app = probe(handle as (request: unknown, response: unknown, next: () => void) => unknown);
  if (app !== undefined) found.set(handle, app);
  return app;
}

function probe(mounted: (request: unknown, response: unknown, next: () => void) => unknown): object | undefined {
  let app: object | undefined;
  // What `mounted_app` reads before it starts, and restores the request's prototype to after.
  const parent = { request: {}, response: {} };
  const target: Record<string, unknown> = { method: 'GET', url: '/', originalUrl: '/', headers: {}, app: parent };
  const request = new Proxy(target, {
    get(object, key) {
      if (key === 'url') return app === undefined ? '/' : undefined;
      return Reflect.get(object, key);
    },
    setPrototypeOf(_object, prototype) {
      const owner = (prototype as { app?: unknown } | null)?.app;
      if (app === undefined && isApp(owner)) app = owner;
      // The stand-in keeps its own prototype: nothing of the sub-app is run through it.
      return true;
    },
  });
  const response = { setHeader: () => undefined, getHeader: () => undefined, once: undefined };
  try {
    mounted(request, response, () => undefined);
  } catch {
    // whatever happened after the sub-app showed itself does not matter
  }
  return app;
}

function isApp(value: unknown): value is object {
  return typeof value === 'function' && typeof (value as { handle?: unknown }).handle === 'function' && typeof (value as { set?: unknown }).set === 'function';
}
