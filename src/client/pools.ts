/**
 * Which instances a call can go to (docs/ARCHITECTURE.md, "A call"). A service is not one pool:
 * half way through a rolling deploy its instances publish different routes, so a call name is
 * resolved against each instance's own routes, and the balancer picks only among the instances
 * that serve it. Everything here is built once per membership version of the service (and kept
 * per call name), never per call.
 */
import type { Instance, ServiceEntry } from '../discovery/index.ts';
import { inZone } from './zones.ts';
import { indexRoutes, type Ambiguity, type CompiledRoute, type RouteIndex } from './route-index.ts';

/**
 * The instances one call name (or one `METHOD /path` of `$call`) can go to at one membership
 * version of its service. Shaped like the part of a `ServiceEntry` the balancer reads, so a
 * `$call` to a path no instance publishes can use the whole service as its pool.
 */
export interface Pool {
  /** Every instance that serves it, whatever its status (retries fall back to the UP ones here). */
  readonly instances: Instance[];
  /**
   * The rotation among them, chosen as the table chooses a service's: the UP ones neither
   * suspected nor ejected; else the ejected ones not suspected; else the suspected ones.
   */
  readonly up: Instance[];
  /** Round-robin's position. */
  cursor: number;
  /** The route, when every instance serves it at the same one (the usual case); else see {@link Pool.routes}. */
  readonly route: CompiledRoute | undefined;
  /** Each instance's own route (a route that moved between versions keeps its name). */
  readonly routes: ReadonlyMap<Instance, CompiledRoute>;
  /** Whether calls say which route they mean (`x-micro-route`): false only for an unpublished `$call` path. */
  readonly published: boolean;
  /** The service's membership version it was built at. */
  readonly version: number;
  /**
   * Where a call's first attempt goes: this pool restricted to the caller's zone while the zone
   * has enough healthy capacity (zones.ts), else this pool itself.
   */
  preferred: Pool;
  /** The same pool at the service's current version (a call's retries look at the table as it is now). */
  readonly current: () => Pool;
}

/**
 * Why a name has no pool: no instance publishes it, every one that does is ambiguous, or (for a
 * `$with` client) none of those that serve it has the labels asked for.
 */
export type Missing =
  | { readonly missing: true; readonly names: readonly string[] }
  | { readonly missing: true; readonly ambiguous: readonly string[] }
  | { readonly missing: true; readonly unmatched: readonly Instance[] };

/**
 * The metadata labels a `$with` client asks for, with its cache key (`text`); every label must
 * match. `NO_SELECTOR` for the plain client.
 */
export interface Selection {
  readonly labels: readonly (readonly [string, string])[];
  /** The labels as `{"k":"v"}`, sorted by key: the selection's key and how errors show it. */
  readonly text: string;
}

/** The plain client's selection: every instance. */
export const NO_SELECTOR: Selection = { labels: [], text: '' };

function matches(instance: Instance, selection: Selection): boolean {
  for (const [key, value] of selection.labels) if (instance.metadata[key] !== value) return false;
  return true;
}

interface ServiceRoutes {
  version: number;
  /** Route indexes by routes revision: instances that publish the same routes share one. */
  readonly indexes: Map<string, RouteIndex>;
  /** Compiled routes by `METHOD path`, shared by every index of the service. */
  readonly compiled: Map<string, CompiledRoute>;
  /** Pools by call name, or by `METHOD path` for `$call`, at `version`. */
  pools: Map<string, Pool | Missing>;
}

const services = new WeakMap<ServiceEntry, ServiceRoutes>();

function routesOf(entry: ServiceEntry): ServiceRoutes {
  let routes = services.get(entry);
  if (!routes) services.set(entry, (routes = { version: entry.version, indexes: new Map(), compiled: new Map(), pools: new Map() }));
  if (routes.version !== entry.version) {
    routes.version = entry.version;
    routes.pools = new Map();
    // Forget the indexes of revisions no instance publishes any more.
    const current = new Set(entry.instances.map((instance) => instance.rev));
    for (const rev of routes.indexes.keys()) if (!current.has(rev)) routes.indexes.delete(rev);
  }
  return routes;
}

function indexOf(routes: ServiceRoutes, instance: Instance): RouteIndex {
  let index = routes.indexes.get(instance.rev);
  if (!index) routes.indexes.set(instance.rev, (index = indexRoutes(instance.routes, routes.compiled)));
  return index;
}

function rotation(serving: readonly Instance[]): Instance[] {
  const up = serving.filter((instance) => instance.status === 'UP');
  const trusted = up.filter((instance) => !instance.suspect);
  const usable = trusted.filter((instance) => instance.ejectedUntil === 0);
  return usable.length > 0 ? usable : trusted.length > 0 ? trusted : up;
}

function poolOf(entry: ServiceEntry, serving: Instance[], routes: Map<Instance, CompiledRoute>, published: boolean, zone: string | undefined, current: () => Pool): Pool {
  let route: CompiledRoute | undefined;
  for (const each of routes.values()) {
    if (route === undefined) route = each;
    else if (route !== each) {
      route = undefined;
      break;
    }
  }
  return withZone({ instances: serving, up: rotation(serving), cursor: 0, route, routes, published, version: entry.version, current }, zone);
}

/** Sets `pool.preferred` for a caller in `zone`. */
function withZone(fields: Omit<Pool, 'preferred'>, zone: string | undefined): Pool {
  const pool = fields as Pool;
  const local = inZone(zone, pool.instances, pool.up);
  pool.preferred = local === undefined ? pool : { ...pool, up: local, cursor: 0 };
  return pool;
}

/**
 * The pool of call name `name` in `entry` at its current version: the instances whose own routes
 * give the name exactly one route, each with that route. A name is ambiguous only within one
 * instance (two of its routes claim it); such an instance does not serve it. {@link Missing} when
 * no instance serves it.
 */
export function poolFor(entry: ServiceEntry, name: string, selection: Selection = NO_SELECTOR, zone?: string): Pool | Missing {
  const routes = routesOf(entry);
  const key = selection.text === '' ? name : `${selection.text} ${name}`;
  const cached = routes.pools.get(key);
  if (cached) return cached;
  const serving: Instance[] = [];
  const chosen = new Map<Instance, CompiledRoute>();
  let ambiguity: Ambiguity | undefined;
  for (const instance of entry.instances) {
    const found = indexOf(routes, instance).get(name);
    if (found === undefined) continue;
    if ('ambiguous' in found) {
      ambiguity ??= found;
      continue;
    }
    serving.push(instance);
    chosen.set(instance, found);
  }
  const selected = selection.labels.length === 0 ? serving : serving.filter((instance) => matches(instance, selection));
  let pool: Pool | Missing;
  if (selected.length > 0) pool = poolOf(entry, selected, chosen, true, zone, () => currentPool(entry, name, selection, zone, pool as Pool));
  else if (serving.length > 0) pool = { missing: true, unmatched: serving };
  else if (ambiguity) pool = { missing: true, ambiguous: ambiguity.ambiguous };
  else pool = { missing: true, names: [...new Set(entry.instances.flatMap((instance) => [...indexOf(routes, instance).keys()]))].sort() };
  routes.pools.set(key, pool);
  return pool;
}

/** `pool` (of call name `name`) as it stands now; when no instance serves the name any more, none. */
function currentPool(entry: ServiceEntry, name: string, selection: Selection, zone: string | undefined, pool: Pool): Pool {
  if (pool.version === entry.version) return pool;
  const now = poolFor(entry, name, selection, zone);
  if (!('missing' in now)) return now;
  const none = { ...pool, instances: [], up: [], version: entry.version, current: () => currentPool(entry, name, selection, zone, pool) } as Pool;
  none.preferred = none;
  return none;
}

/**
 * The pool of `$call(method, path)`: the instances that publish exactly that method and path.
 * When none does, the whole service with `route` (the path is sent as the caller wrote it, as
 * before pools existed: it may be a concrete path, or a route the table does not know yet).
 */
export function routePoolFor(entry: ServiceEntry, route: CompiledRoute, selection: Selection = NO_SELECTOR, zone?: string): Pool {
  const routes = routesOf(entry);
  const key = selection.text === '' ? route.label : `${selection.text} ${route.label}`;
  const cached = routes.pools.get(key);
  if (cached && !('missing' in cached)) return cached;
  const serving: Instance[] = [];
  const chosen = new Map<Instance, CompiledRoute>();
  const candidates = selection.labels.length === 0 ? entry.instances : entry.instances.filter((instance) => matches(instance, selection));
  for (const instance of candidates) {
    if (!instance.routes.some((published) => published.method === route.method && published.path === route.path)) continue;
    serving.push(instance);
    chosen.set(instance, route);
  }
  const current = (): Pool => (pool.version === entry.version ? pool : routePoolFor(entry, route, selection, zone));
  let pool: Pool;
  if (serving.length > 0) pool = poolOf(entry, serving, chosen, true, zone, current);
  else {
    for (const instance of candidates) chosen.set(instance, route);
    const up = selection.labels.length === 0 ? entry.up : rotation(candidates);
    pool = withZone({ instances: candidates, up, cursor: 0, route, routes: chosen, published: false, version: entry.version, current }, zone);
  }
  routes.pools.set(key, pool);
  return pool;
}
