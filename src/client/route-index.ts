import type { RouteDescriptor } from '../routes/index.ts';
import { routeHeaderValue } from '../routes/route-header.ts';

/** A route ready to be called: its path split around its parameters once, not per call. */
export interface CompiledRoute {
  readonly method: string;
  readonly path: string;
  /** `METHOD path`. */
  readonly label: string;
  /** What a call sends in `x-micro-route`, so that a callee that lacks the route says so. */
  readonly header: string;
  /** Static text around the parameters: `parts[0] + param0 + parts[1] + …`. */
  readonly parts: readonly string[];
  readonly params: readonly string[];
  /** Parameters that may be left out (`:id?`). */
  readonly optional: ReadonlySet<string>;
  /** Wildcard parameters (`*name`, Express 4's `*`): their value may span segments (`a/b`, or an array). */
  readonly wildcards?: ReadonlySet<string>;
  readonly paramSet: ReadonlySet<string>;
  readonly sendsBody: boolean;
  /** Safe to send again to another instance after the connection broke mid-request. */
  readonly idempotent: boolean;
  /**
   * Other paths the same handler answers under this name (same method), in the order the app
   * declared them: a call takes the first of this route and these whose parameters its
   * arguments fill ({@link chooseRoute}).
   */
  readonly alternatives?: readonly CompiledRoute[];
}

/** A name two or more routes claim: calling it fails and lists them. */
export interface Ambiguity {
  readonly ambiguous: readonly string[];
}

/** Call name to route, for one service at one membership version. */
export type RouteIndex = Map<string, CompiledRoute | Ambiguity>;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
// `:name` with an Express 4 pattern `(\d+)` and marker `?` after it; `*name` (Express 5); a bare `*` (Express 4).
const PARAM = /:([A-Za-z_$][A-Za-z0-9_$]*)(?:\([^)]*\))?(\?)?|\*([A-Za-z_$][A-Za-z0-9_$]*)?|[{}]/g;

/**
 * Splits a route path around its parameters so a call only concatenates. Express 5 braces mark
 * what they hold optional and are not sent; a bare `*` (Express 4) is the parameter `0`, the
 * next `1`, as Express numbers them in `req.params`.
 */
export function compileRoute(method: string, path: string): CompiledRoute {
  const parts: string[] = [];
  const params: string[] = [];
  const optional = new Set<string>();
  const wildcards = new Set<string>();
  let text = '';
  let last = 0;
  let depth = 0;
  let stars = 0;
  for (const match of path.matchAll(PARAM)) {
    text += path.slice(last, match.index);
    last = (match.index ?? 0) + match[0].length;
    if (match[0] === '{') depth++;
    else if (match[0] === '}') depth = Math.max(0, depth - 1);
    else {
      const name = match[1] ?? match[3] ?? String(stars++);
      parts.push(text);
      text = '';
      params.push(name);
      if (match[2] === '?' || depth > 0) optional.add(name);
      if (match[0][0] === '*') wildcards.add(name);
    }
  }
  parts.push(text + path.slice(last));
  return {
    method,
    path,
    label: `${method} ${path}`,
    header: routeHeaderValue(method, path),
    parts,
    params,
    optional,
    ...(wildcards.size > 0 ? { wildcards } : {}),
    paramSet: new Set(params),
    sendsBody: BODY_METHODS.has(method),
    idempotent: IDEMPOTENT.has(method),
  };
}

/**
 * The route a call with `args` takes: `route` itself, or when its handler answers the name on
 * other paths too, the first of them whose required parameters `args` fill (docs/routing.md,
 * "One handler on several paths"). When none is filled, `route`, so the error names its path.
 * A short list in declaration order, checked against the arguments' keys: no scan of the routes.
 */
export function chooseRoute(route: CompiledRoute, args: Readonly<Record<string, unknown>> | undefined): CompiledRoute {
  const alternatives = route.alternatives;
  if (alternatives === undefined || fills(route, args)) return route;
  for (const alternative of alternatives) if (fills(alternative, args)) return alternative;
  return route;
}

function fills(route: CompiledRoute, args: Readonly<Record<string, unknown>> | undefined): boolean {
  for (const name of route.params) {
    if (route.optional.has(name)) continue;
    const value = args?.[name];
    if (value === undefined || value === null || value === '') return false;
  }
  return true;
}

/**
 * Indexes routes by each of their names: the same method and path once (the last one listed
 * wins), and a name two routes claim becomes an {@link Ambiguity}. The `express-micro types`
 * command indexes what it generates with this too, so its call names are the proxy's. With
 * `compiledRoutes`, a route already compiled there (same method and path) is reused, so that indexes of
 * several instances hand out the same object for the same route.
 */
export function indexRoutes(list: Iterable<RouteDescriptor>, compiledRoutes?: Map<string, CompiledRoute>): RouteIndex {
  const routes = new Map<string, RouteDescriptor>();
  for (const route of list) routes.set(`${route.method} ${route.path}`, route);
  const claims = new Map<string, string[]>();
  const compiled = new Map<string, CompiledRoute>();
  for (const [label, route] of routes) {
    let compiledRoute = compiledRoutes?.get(label);
    if (!compiledRoute) {
      compiledRoute = compileRoute(route.method, route.path);
      compiledRoutes?.set(label, compiledRoute);
    }
    compiled.set(label, compiledRoute);
    for (const name of new Set(route.names)) {
      const list = claims.get(name);
      if (list) list.push(label);
      else claims.set(name, [label]);
    }
  }
  const index: RouteIndex = new Map();
  for (const [name, labels] of claims) {
    const first = compiled.get(labels[0] as string) as CompiledRoute;
    if (labels.length === 1) index.set(name, first);
    else if (oneHandler(labels.map((label) => routes.get(label) as RouteDescriptor))) {
      // Kept with the compiled routes too, so that instances with the same routes share it.
      const key = `${name}\n${labels.join('\n')}`;
      let shared = compiledRoutes?.get(key);
      if (!shared) {
        shared = { ...first, alternatives: labels.slice(1).map((label) => compiled.get(label) as CompiledRoute) };
        compiledRoutes?.set(key, shared);
      }
      index.set(name, shared);
    } else index.set(name, { ambiguous: labels });
  }
  return index;
}

/** Whether the routes are one handler's, on one method: numbered alike by the instance that published them. */
function oneHandler(routes: readonly RouteDescriptor[]): boolean {
  const { method, handler } = routes[0] as RouteDescriptor;
  return handler !== undefined && routes.every((route) => route.handler === handler && route.method === method);
}

/** Every call name in an index, sorted, for error messages. */
export function callNames(index: RouteIndex): string[] {
  return [...index.keys()].sort();
}
