/** The client part: the `services` proxy, from call name to request to decoded answer. */
export { ServedRequests } from './request-context.ts';
export { InFlight } from './in-flight.ts';
export { OutlierDetector } from './outlier.ts';
export { createServices, type ProxyContext } from './proxy.ts';
export type { AnyServices, CallArguments, CallBody, CallFunction, CallOptions, CallRoute, KnownService, KnownServices, ResponseType, Selector, ServiceClient, ServiceRegistry, ServiceRegistryOptions, Services } from './types.ts';
