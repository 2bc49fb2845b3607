import { serviceKey, type Instance, type ServiceEntry } from '../discovery/index.ts';
import { AmbiguousRouteError, ExpressMicroError, RouteNotFoundError, ServiceUnavailableError } from '../errors/index.ts';
import type { CallSeries, MetricsRegistry } from '../metrics/index.ts';
import { execute, type CallContext } from './call.ts';
import { RESERVED } from './reserved.ts';
import { NO_SELECTOR, poolFor, routePoolFor, type Pool, type Selection } from './pools.ts';
import { compileRoute, type CompiledRoute } from './route-index.ts';
import type { CallArguments, CallFunction, CallOptions, CallRoute, Selector, ServiceClient, Services } from './types.ts';

/** What the proxy needs beyond a call's context. */
export interface ProxyContext extends CallContext {
  /** Called once when a name is missing, before giving up: the service's routes may be newer. */
  readonly refresh: (entry: ServiceEntry) => void;
  /**
   * Where calls are counted. A call's series is fetched when its route is resolved, not per
   * call; calls that fail before (unknown service, unknown or ambiguous name) are not counted.
   */
  readonly metrics: MetricsRegistry;
}

function unavailable(context: ProxyContext, service: string, call: string): ServiceUnavailableError {
  const known = context.cluster.table.serviceNames();
  return new ServiceUnavailableError(service, call, `no such service is known (known: ${known.join(', ') || 'none'})`, known);
}

/**
 * The pool of `name`: the instances that serve it (see pools.ts). Fails before anything is sent
 * when no instance publishes it (`RouteNotFoundError`, after asking for this instance's own routes
 * again), when every one that does claims it for two routes (`AmbiguousRouteError`), or when none
 * of those that publish it is UP (`ServiceUnavailableError`).
 */
function resolve(context: ProxyContext, entry: ServiceEntry, name: string, selection: Selection): Pool {
  let found = poolFor(entry, name, selection, context.zone);
  if ('missing' in found && 'names' in found) {
    context.refresh(entry);
    found = poolFor(entry, name, selection, context.zone);
  }
  if ('ambiguous' in found) throw new AmbiguousRouteError(entry.name, name, found.ambiguous);
  if ('names' in found) throw new RouteNotFoundError(entry.name, name, found.names);
  if ('unmatched' in found) throw unmatched(context, entry, name, selection, found.unmatched);
  return found;
}

/** No instance that serves the call has the labels a `$with` client asks for: say which labels they have. */
function unmatched(context: ProxyContext, entry: ServiceEntry, name: string, selection: Selection, serving: readonly Instance[]): ServiceUnavailableError {
  const seen = [...new Set(serving.map((instance) => JSON.stringify(instance.metadata)))].slice(0, 5).join(', ');
  const reason = `no instance matches $with(${selection.text}): ${serving.length} serve it, with metadata ${seen}`;
  return new ServiceUnavailableError(entry.name, name, reason, context.cluster.table.serviceNames());
}

/** Checks a `$with` selector and merges it over `base` (a `$with` of a `$with` client narrows it). */
function selectionOf(label: string, base: Selection, selector: unknown): Selection {
  if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) {
    throw new ExpressMicroError(`express-micro: ${label}.$with takes an object of metadata labels, e.g. $with({ version: '2' })`, { service: label });
  }
  const labels = new Map<string, string>(base.labels);
  for (const [key, value] of Object.entries(selector)) {
    if (typeof value !== 'string') throw new ExpressMicroError(`express-micro: ${label}.$with: the label "${key}" must be a string`, { service: label });
    labels.set(key, value);
  }
  const sorted = [...labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { labels: sorted, text: JSON.stringify(Object.fromEntries(sorted)) };
}

function unserved(context: ProxyContext, entry: ServiceEntry, name: string, pool: Pool): ServiceUnavailableError {
  const reason = `none of the ${pool.instances.length} instance(s) that serve it is UP (${entry.up.length} UP instance(s) of the service do not serve it)`;
  return new ServiceUnavailableError(entry.name, name, reason, context.cluster.table.serviceNames());
}

/**
 * One call function per (service, name), made on first access and kept. It remembers the pool
 * it resolved (the instances that serve the name, each with its route) and the membership version
 * it resolved it at, so a call in a stable cluster does one Map lookup for the service and two
 * comparisons, and never scans or derives names.
 */
function callFunction(context: ProxyContext, key: string, label: string, name: string, selection: Selection): CallFunction {
  let cachedEntry: ServiceEntry | undefined;
  let cachedVersion = -1;
  let cachedPool: Pool | undefined;
  let cachedSeries: CallSeries | undefined;
  const call = (args?: unknown, options?: CallOptions): Promise<unknown> => {
    try {
      const entry = context.cluster.table.service(key);
      if (!entry) throw unavailable(context, label, name);
      if (entry !== cachedEntry || entry.version !== cachedVersion || !cachedPool) {
        cachedPool = resolve(context, entry, name, selection);
        if (cachedSeries?.service !== entry.name) cachedSeries = context.metrics.callSeries(entry.name, name);
        cachedEntry = entry;
        cachedVersion = entry.version;
      }
      // Those that serve it are all DOWN: fail before anything is sent (UP ones that do not serve it are no help).
      if (cachedPool.up.length === 0 && entry.up.length > 0) throw unserved(context, entry, name, cachedPool);
      return execute(context, entry, name, cachedPool, args, options, cachedSeries as CallSeries);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return call as CallFunction;
}

function routeCaller(context: ProxyContext, key: string, label: string, selection: Selection): CallRoute {
  const compiled = new Map<string, { route: CompiledRoute; series: CallSeries }>();
  const call = (method: string, path: string, args?: CallArguments, options?: CallOptions): Promise<unknown> => {
    try {
      if (typeof method !== 'string' || typeof path !== 'string' || path[0] !== '/') {
        throw new ExpressMicroError('express-micro: $call takes (method, path, args?, options?) with a path starting with "/"', { service: label });
      }
      const entry = context.cluster.table.service(key);
      const routeLabel = `${method.toUpperCase()} ${path}`;
      if (!entry) throw unavailable(context, label, routeLabel);
      let cached = compiled.get(routeLabel);
      if (!cached) compiled.set(routeLabel, (cached = { route: compileRoute(method.toUpperCase(), path), series: context.metrics.callSeries(entry.name, routeLabel) }));
      else if (cached.series.service !== entry.name) cached.series = context.metrics.callSeries(entry.name, routeLabel);
      // The instances that publish this method and path; when none does, any (sent as written).
      const pool = routePoolFor(entry, cached.route, selection, context.zone);
      if (pool.instances.length === 0) throw unmatched(context, entry, routeLabel, selection, entry.instances);
      return execute(context, entry, routeLabel, pool, args, options, cached.series);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return call as CallRoute;
}

/**
 * The client of one service: a call function per name, `$call`, and `$with(selector)`, the same
 * client restricted to instances whose metadata match every label (made once per selector and
 * kept, so its pools are built once per membership version like the plain client's).
 */
function serviceClient(context: ProxyContext, label: string, selection: Selection = NO_SELECTOR): ServiceClient {
  const key = serviceKey(label);
  const functions = new Map<string, CallFunction | CallRoute | ((selector: Selector) => ServiceClient)>();
  functions.set('$call', routeCaller(context, key, label, selection));
  const restricted = new Map<string, ServiceClient>();
  functions.set('$with', (selector: Selector): ServiceClient => {
    const narrowed = selectionOf(label, selection, selector);
    let client = restricted.get(narrowed.text);
    if (!client) restricted.set(narrowed.text, (client = serviceClient(context, label, narrowed)));
    return client;
  });
  return new Proxy(Object.create(null) as ServiceClient, {
    get(_target, property) {
      if (typeof property !== 'string' || RESERVED.has(property)) return undefined;
      let fn = functions.get(property);
      if (!fn) functions.set(property, (fn = callFunction(context, key, label, property, selection)));
      return fn;
    },
    has: (_target, property) => typeof property === 'string' && !RESERVED.has(property),
    set: () => false,
    deleteProperty: () => false,
  });
}

/**
 * The `services` proxy. `services.userService`, `services['user-service']` and
 * `services.user_service` reach the same service; each property's client is made once and kept.
 * It is not a thenable, so `await services.userService` does not hang.
 */
export function createServices(context: ProxyContext): Services {
  const clients = new Map<string, ServiceClient>();
  return new Proxy(Object.create(null) as Services, {
    get(_target, property) {
      if (typeof property !== 'string' || RESERVED.has(property)) return undefined;
      let client = clients.get(property);
      if (!client) clients.set(property, (client = serviceClient(context, property)));
      return client;
    },
    has: (_target, property) => typeof property === 'string' && !RESERVED.has(property),
    set: () => false,
    deleteProperty: () => false,
  });
}
