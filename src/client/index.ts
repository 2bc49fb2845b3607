/** The client part: the `services` proxy, from call name to request to decoded answer. */
export { InFlight } from './in-flight.ts';
export { createServices, type ProxyContext } from './proxy.ts';
export type { CallArguments, CallFunction, CallOptions, CallRoute, ServiceClient, Services } from './types.ts';
