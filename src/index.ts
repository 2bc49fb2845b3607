/**
 * express-micro: Express apps that find each other and call each other by name.
 *
 * ```ts
 * import expressMicro from 'express-micro';
 * const { services } = expressMicro(app, { serviceName: 'order-service', peers: ['http://127.0.0.1:3000'] });
 * const user = await services.userService.getUser({ id: 7 });
 * ```
 *
 * @module
 */
import {
  AmbiguousRouteError,
  ConnectionError,
  EventError,
  ExpressMicroError,
  MissingParameterError,
  OptionError,
  RemoteError,
  ResponseTooLargeError,
  RouteNotFoundError,
  ServiceUnavailableError,
  TimeoutError,
} from './errors/index.ts';
import type { ExpressApp } from './express.ts';
import type { ExpressMicroOptions } from './options.ts';
import { expressMicro as plugin, type ExpressMicro } from './plugin.ts';

/**
 * The default export: `expressMicro(app, options)`, with the error classes on it for
 * `instanceof` checks (`err instanceof expressMicro.RemoteError`).
 */
export interface ExpressMicroFunction {
  /** Joins `app` to the cluster and returns the handle with the `services` proxy. */
  (app: ExpressApp, options?: ExpressMicroOptions): ExpressMicro;
  /** Base class of every error express-micro throws. */
  readonly ExpressMicroError: typeof ExpressMicroError;
  /** A bad option, thrown by `expressMicro()` itself. */
  readonly OptionError: typeof OptionError;
  /** No instance of the service can take the call. */
  readonly ServiceUnavailableError: typeof ServiceUnavailableError;
  /** The service publishes no route by that name. */
  readonly RouteNotFoundError: typeof RouteNotFoundError;
  /** Two or more routes of the service claim the name. */
  readonly AmbiguousRouteError: typeof AmbiguousRouteError;
  /** A path parameter is missing from the call's arguments. */
  readonly MissingParameterError: typeof MissingParameterError;
  /** The remote answered with a non-2xx status. */
  readonly RemoteError: typeof RemoteError;
  /** The call got no answer in time. */
  readonly TimeoutError: typeof TimeoutError;
  /** The connection broke mid-call on a method that is not retried. */
  readonly ConnectionError: typeof ConnectionError;
  /** A 2xx answer read whole was longer than `maxResponseBytes`. */
  readonly ResponseTooLargeError: typeof ResponseTooLargeError;
  /** An event could not be sent: a payload JSON cannot carry or too large, or Redis did not store it. */
  readonly EventError: typeof EventError;
}

/** Joins an Express app to the cluster: see {@link ExpressMicroFunction}. */
const expressMicro: ExpressMicroFunction = Object.assign(plugin, {
  ExpressMicroError,
  OptionError,
  ServiceUnavailableError,
  RouteNotFoundError,
  AmbiguousRouteError,
  MissingParameterError,
  RemoteError,
  TimeoutError,
  ConnectionError,
  ResponseTooLargeError,
  EventError,
});

export default expressMicro;

export type { AnyServices, CallArguments, CallBody, CallFunction, CallOptions, CallRoute, KnownService, KnownServices, ResponseType, Selector, ServiceClient, ServiceRegistry, ServiceRegistryOptions, Services } from './client/index.ts';
export type { DiscoveryEvent, EtcdRegistryOptions, EtcdTlsOptions, InstanceInfo, InstanceListener, InstanceStatus, RegistryOptions } from './discovery/index.ts';
// Named value exports for ESM and JSR (`import { RemoteError } from 'express-micro'`). The
// CommonJS build starts from ./cjs.ts instead, whose only value is the function.
export {
  AmbiguousRouteError,
  ConnectionError,
  EventError,
  ExpressMicroError,
  MissingParameterError,
  OptionError,
  RemoteError,
  ResponseTooLargeError,
  RouteNotFoundError,
  ServiceUnavailableError,
  TimeoutError,
} from './errors/index.ts';
export type { EmitResult, EventHandler, EventMeta, EventPayload, EventReceipt, EventRegistry, PublishedSubscription, SubscribeOptions } from './events/index.ts';
export type { ExpressApp, IncomingRequest, Middleware, NextFunction, OutgoingResponse } from './express.ts';
export type { HistogramSample, MetricFamily, Metrics, MetricSample } from './metrics/index.ts';
export type { ClusterEventsOptions, EventsOptions, ExpressMicroOptions, Logger, Pem, RedisEventsOptions, TlsOptions } from './options.ts';
export type { ExpressMicro } from './plugin.ts';
export type { RouteDescriptor } from './routes/index.ts';
