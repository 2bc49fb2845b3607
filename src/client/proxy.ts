import { serviceKey, type ServiceEntry } from '../discovery/index.ts';
import { AmbiguousRouteError, ExpressMicroError, RouteNotFoundError, ServiceUnavailableError } from '../errors/index.ts';
import type { CallSeries, MetricsRegistry } from '../metrics/index.ts';
import { execute, type CallContext } from './call.ts';
import { RESERVED } from './reserved.ts';
import { buildRouteIndex, callNames, chooseRoute, compileRoute, type CompiledRoute, type RouteIndex } from './route-index.ts';
import type { CallArguments, CallFunction, CallOptions, CallRoute, ServiceClient, Services } from './types.ts';

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

const indexes = new WeakMap<ServiceEntry, { version: number; index: RouteIndex }>();

function indexOf(entry: ServiceEntry): RouteIndex {
  const cached = indexes.get(entry);
  if (cached && cached.version === entry.version) return cached.index;
  const index = buildRouteIndex(entry);
  indexes.set(entry, { version: entry.version, index });
  return index;
}

function unavailable(context: ProxyContext, service: string, call: string): ServiceUnavailableError {
  const known = context.cluster.table.serviceNames();
  return new ServiceUnavailableError(service, call, `no such service is known (known: ${known.join(', ') || 'none'})`, known);
}

function resolve(context: ProxyContext, entry: ServiceEntry, name: string): CompiledRoute {
  let found = indexOf(entry).get(name);
  if (!found) {
    context.refresh(entry);
    found = indexOf(entry).get(name);
  }
  if (!found) throw new RouteNotFoundError(entry.name, name, callNames(indexOf(entry)));
  if ('ambiguous' in found) throw new AmbiguousRouteError(entry.name, name, found.ambiguous);
  return found;
}

function normalizeArguments(route: CompiledRoute, service: string, name: string, args: unknown): CallArguments | undefined {
  if (args === undefined || args === null) return undefined;
  if (typeof args === 'object' && !Array.isArray(args)) return args as CallArguments;
  // `getUser(7)`: a lone value fills a route's only parameter.
  if ((typeof args === 'string' || typeof args === 'number') && route.params.length === 1) return { [route.params[0] as string]: args };
  throw new ExpressMicroError(`express-micro: ${service}.${name} takes an object of arguments`, { service, call: name });
}

/**
 * One call function per (service, name), made on first access and kept. It remembers the route
 * it resolved and the membership version it resolved it at, so a call in a stable cluster does
 * one Map lookup for the service and two comparisons, and never scans or derives names.
 */
function callFunction(context: ProxyContext, key: string, label: string, name: string): CallFunction {
  let cachedEntry: ServiceEntry | undefined;
  let cachedVersion = -1;
  let cachedRoute: CompiledRoute | undefined;
  let cachedSeries: CallSeries | undefined;
  const call = (args?: unknown, options?: CallOptions): Promise<unknown> => {
    try {
      const entry = context.cluster.table.service(key);
      if (!entry) throw unavailable(context, label, name);
      if (entry !== cachedEntry || entry.version !== cachedVersion || !cachedRoute) {
        cachedRoute = resolve(context, entry, name);
        if (cachedSeries?.service !== entry.name) cachedSeries = context.metrics.callSeries(entry.name, name);
        cachedEntry = entry;
        cachedVersion = entry.version;
      }
      const normalized = normalizeArguments(cachedRoute, entry.name, name, args);
      return execute(context, entry, name, chooseRoute(cachedRoute, normalized), normalized, options, cachedSeries as CallSeries);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return call as CallFunction;
}

function routeCaller(context: ProxyContext, key: string, label: string): CallRoute {
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
      return execute(context, entry, routeLabel, cached.route, args, options, cached.series);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return call as CallRoute;
}

function serviceClient(context: ProxyContext, label: string): ServiceClient {
  const key = serviceKey(label);
  const functions = new Map<string, CallFunction | CallRoute>();
  functions.set('$call', routeCaller(context, key, label));
  return new Proxy(Object.create(null) as ServiceClient, {
    get(_target, property) {
      if (typeof property !== 'string' || RESERVED.has(property)) return undefined;
      let fn = functions.get(property);
      if (!fn) functions.set(property, (fn = callFunction(context, key, label, property)));
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
