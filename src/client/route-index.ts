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
  readonly paramSet: ReadonlySet<string>;
  readonly sendsBody: boolean;
  /** Safe to send again to another instance after the connection broke mid-request. */
  readonly idempotent: boolean;
}

/** A name two or more routes claim: calling it fails and lists them. */
export interface Ambiguity {
  readonly ambiguous: readonly string[];
}

/** Call name to route, for one service at one membership version. */
export type RouteIndex = Map<string, CompiledRoute | Ambiguity>;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const PARAM = /:([A-Za-z_$][A-Za-z0-9_$]*)(\?)?/g;

/** Splits a route path around its `:params` so a call only concatenates. */
export function compileRoute(method: string, path: string): CompiledRoute {
  const parts: string[] = [];
  const params: string[] = [];
  const optional = new Set<string>();
  let last = 0;
  // Express 5 marks optional parts with braces (`/users{/:id}`); the braces are not sent.
  const template = path.replace(/[{}]/g, '');
  for (const match of template.matchAll(PARAM)) {
    parts.push(template.slice(last, match.index));
    params.push(match[1] as string);
    if (match[2] || path.includes(`{/:${match[1]}}`)) optional.add(match[1] as string);
    last = (match.index ?? 0) + match[0].length;
  }
  parts.push(template.slice(last));
  return {
    method,
    path,
    label: `${method} ${path}`,
    header: routeHeaderValue(method, path),
    parts,
    params,
    optional,
    paramSet: new Set(params),
    sendsBody: BODY_METHODS.has(method),
    idempotent: IDEMPOTENT.has(method),
  };
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
    index.set(name, labels.length === 1 ? (compiled.get(labels[0] as string) as CompiledRoute) : { ambiguous: labels });
  }
  return index;
}

/** Every call name in an index, sorted, for error messages. */
export function callNames(index: RouteIndex): string[] {
  return [...index.keys()].sort();
}
