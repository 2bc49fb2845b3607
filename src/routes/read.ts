/**
 * Reads the routes of an Express 4 or 5 app as plain descriptors. It walks the router stack each
 * time it is called, so routes added after start-up show up on the next call.
 *
 * Choices:
 * - One descriptor per declared method. `.all()` routes are left out: a call needs a concrete
 *   method, and `.all()` routes are mostly guards and catch-alls. `route.all()` marks itself
 *   (`_all`), but `app.all()` registers the handler once per HTTP method (Express 4 and 5), so a
 *   route that declares even `M-SEARCH` and `UNSUBSCRIBE` besides the usual five counts as one.
 *   A route with `.all()` middleware in front of a method (`route.all(auth).get(h)`) is published
 *   for that method. HEAD appears only when declared (Express answers HEAD through GET
 *   implicitly, and the design gives it no name).
 * - Names: the last handler registered for that method names the route when its function has a
 *   real name (`function getUser`, `const getUser = (req, res) => …`; `bound getUser` counts as
 *   `getUser`); then the derived name, when it differs. The same method and path declared twice
 *   is one route (Express serves it from the first), so the names are merged.
 * - Paths: strings, and the strings of path arrays. RegExp paths are left out: nobody can build
 *   a URL from them.
 * - Routers mounted with `app.use(path, router)` are walked with their prefix when it can be
 *   recovered (see mount.ts: always on Express 4 and router@2.3+, only root mounts on older
 *   Express 5 routers). Sub-apps (`app.use(path, otherApp)`) are walked the same way, at any
 *   depth; their router hides in a closure, found as sub-app.ts says. Everything under `/_discovery` is ours, not the app's, and is left out.
 * - Odd shapes never throw: whatever cannot be read is skipped.
 */

import { deriveName } from './names.ts';
import { mountPaths, type MountLayer } from './mount.ts';
import { mountedApp } from './sub-app.ts';
import type { RouteDescriptor } from './types.ts';

type Bag = Record<string, unknown>;

interface ExpressLayer extends MountLayer {
  route?: unknown;
  handle?: unknown;
  method?: unknown;
}

interface ExpressRoute {
  path?: unknown;
  methods?: unknown;
  stack?: unknown;
}

/** What one read collects: the routes by `METHOD path`, and the routes each handler answers. */
interface Found {
  readonly routes: Map<string, RouteDescriptor>;
  readonly handlers: Map<unknown, RouteDescriptor[]>;
}

/** The routes the app serves now, as plain JSON-ready objects, in registration order. */
export function readRoutes(app: unknown): RouteDescriptor[] {
  const found: Found = { routes: new Map(), handlers: new Map() };
  const stack = rootStack(app);
  if (stack !== undefined) walk(stack, '', found, new Set());
  numberSharedHandlers(found.handlers);
  return [...found.routes.values()];
}

/**
 * Routes answered by one handler function (a path array, the same function registered twice, a
 * router mounted at two paths) get the same `handler` number when two of them share a name, so
 * that the name is not ambiguous. Other routes carry no number (the seed's shape).
 */
function numberSharedHandlers(handlers: Map<unknown, RouteDescriptor[]>): void {
  let next = 0;
  for (const routes of handlers.values()) {
    if (routes.length < 2) continue;
    const seen = new Set<string>();
    let shared = false;
    for (const route of routes) {
      for (const name of route.names) {
        if (seen.has(name)) shared = true;
        seen.add(name);
      }
    }
    if (!shared) continue;
    const number = next++;
    for (const route of routes) route.handler = number;
  }
}

function rootStack(app: unknown): unknown[] | undefined {
  if (!isBag(app)) return undefined;
  // Express 4 keeps `_router` (and its `app.router` getter throws); Express 5 has `app.router`.
  for (const key of ['_router', 'router']) {
    try {
      const stack = stackOf(app[key]);
      if (stack !== undefined) return stack;
    } catch {
      // a throwing getter is just a missing router
    }
  }
  // A bare Router passed in place of an app.
  return stackOf(app);
}

function walk(stack: unknown[], prefix: string, found: Found, open: Set<unknown[]>): void {
  for (const layer of stack) {
    try {
      if (!isBag(layer)) continue;
      const entry = layer as ExpressLayer;
      if (isBag(entry.route)) addRoute(entry.route as ExpressRoute, prefix, found);
      else walkMounted(entry, prefix, found, open);
    } catch {
      // one unreadable layer must not hide the others
    }
  }
}

function walkMounted(layer: ExpressLayer, prefix: string, found: Found, open: Set<unknown[]>): void {
  // A sub-app (`app.use('/v2', subApp)`) is walked like a router: its routes answer under the mount path.
  // A sub-app given to a router (`router.use('/x', subApp)`) is the layer's handle itself.
  const subApp = stackOf(layer.handle) === undefined ? (isApp(layer.handle) ? layer.handle : mountedApp(layer.handle)) : undefined;
  const stack = subApp === undefined ? stackOf(layer.handle) : rootStack(subApp);
  // `open` guards against a router mounted inside itself.
  if (stack === undefined || open.has(stack)) return;
  for (const mount of mountPaths(layer) ?? []) {
    const base = prefix + mount;
    if (isDiscovery(base)) continue;
    open.add(stack);
    walk(stack, base, found, open);
    open.delete(stack);
  }
}

// Methods nobody declares one by one in a REST app: together, the sign of `app.all()`.
const SPREAD_BY_ALL = ['get', 'post', 'put', 'patch', 'delete', 'm-search', 'unsubscribe'];

function addRoute(route: ExpressRoute, prefix: string, found: Found): void {
  const methods = isBag(route.methods) ? route.methods : {};
  if (SPREAD_BY_ALL.every((m) => methods[m] === true)) return;
  const layers = Array.isArray(route.stack) ? route.stack : [];
  for (const path of stringPaths(route.path)) {
    const full = join(prefix, path);
    if (isDiscovery(full)) continue;
    for (const key of Object.keys(methods)) {
      if (key === '_all' || methods[key] !== true) continue;
      const method = key.toUpperCase();
      const handler = lastHandler(layers, key);
      const names = [ownName(handler), deriveName(method, full)];
      let descriptor = found.routes.get(`${method} ${full}`);
      if (descriptor === undefined) {
        descriptor = { method, path: full, names: [] };
        found.routes.set(`${method} ${full}`, descriptor);
        // Express serves a path declared twice from the first declaration: its handler counts.
        if (typeof handler === 'function') {
          const answered = found.handlers.get(handler);
          if (answered) answered.push(descriptor);
          else found.handlers.set(handler, [descriptor]);
        }
      }
      for (const name of names) if (name !== undefined && !descriptor.names.includes(name)) descriptor.names.push(name);
    }
  }
}

/** The handler that answers `method`: the last one registered for it on the route. */
function lastHandler(layers: unknown[], method: string): unknown {
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i];
    if (isBag(layer) && (layer as ExpressLayer).method === method) return (layer as ExpressLayer).handle;
  }
  return undefined;
}

/** The function's own name when it has a usable one; anonymous and inline arrows have none. */
function ownName(handler: unknown): string | undefined {
  if (typeof handler !== 'function') return undefined;
  const name = handler.name.replace(/^(?:bound )+/, '');
  return /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'anonymous' ? name : undefined;
}

function stringPaths(path: unknown): string[] {
  if (typeof path === 'string') return [path];
  if (Array.isArray(path)) return path.flat(Infinity).filter((p): p is string => typeof p === 'string');
  return [];
}

function join(prefix: string, path: string): string {
  if (path === '' || path === '/') return prefix === '' ? '/' : prefix;
  return prefix + (path.startsWith('/') ? path : `/${path}`);
}

function isDiscovery(path: string): boolean {
  const lower = path.toLowerCase();
  return lower === '/_discovery' || lower.startsWith('/_discovery/');
}

function isApp(value: unknown): value is Bag {
  return typeof value === 'function' && typeof (value as { handle?: unknown }).handle === 'function' && typeof (value as { set?: unknown }).set === 'function';
}

function stackOf(value: unknown): unknown[] | undefined {
  if (!isBag(value)) return undefined;
  const stack = value['stack'];
  return Array.isArray(stack) ? stack : undefined;
}

function isBag(value: unknown): value is Bag {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}
