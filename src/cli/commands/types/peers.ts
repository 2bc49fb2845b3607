/**
 * Reads the services of a running cluster: `GET /_discovery/services` on each peer given, signed
 * as the library signs its own discovery requests (Bearer, or HMAC with `--hmac`), and what each
 * peer knows of itself and of the others.
 */
import type { RouteDescriptor } from '../../../routes/index.ts';
import { eventsOf } from '../../cluster-view.ts';
import { CliError } from '../../errors.ts';
import { PeerClient, type PeerAuth } from '../../peer.ts';
import type { EventModel, ServiceModel } from './model.ts';

const PATH = '/_discovery/services';

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const CALL_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,99}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The routes of one service in the answer; entries that are not routes are skipped. */
function routesOf(value: unknown): RouteDescriptor[] {
  if (!Array.isArray(value)) return [];
  const routes: RouteDescriptor[] = [];
  for (const item of value) {
    if (!isRecord(item)) continue;
    const { method, path, names, handler } = item;
    if (typeof method !== 'string' || typeof path !== 'string' || !path.startsWith('/') || !Array.isArray(names)) continue;
    const route: RouteDescriptor = { method: method.toUpperCase(), path, names: names.filter((name): name is string => typeof name === 'string' && CALL_NAME.test(name)) };
    // The handler number that makes a name one handler carries on several paths one call (docs/routing.md).
    if (typeof handler === 'number' && Number.isSafeInteger(handler) && handler >= 0 && handler < 1000) route.handler = handler;
    routes.push(route);
  }
  return routes;
}

/**
 * The event names some of `lists` subscribe to (each an instance's `events`; an older peer sends
 * none): only names the library's event-name rule accepts, once each, sorted.
 */
function eventNames(...lists: unknown[]): EventModel[] {
  const names = new Set<string>();
  for (const list of lists) for (const { event } of eventsOf(list)) names.add(event);
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((name) => ({ name }));
}

/** The services one `/_discovery/services` answer lists: the peer itself and those it knows, with the events their instances subscribe to. */
export function parseServicesView(origin: string, value: unknown): ServiceModel[] {
  if (!isRecord(value) || !isRecord(value.thisService) || !isRecord(value.connectedPeers)) {
    throw new CliError(`${origin}${PATH} did not answer with an express-micro services list`);
  }
  const services: ServiceModel[] = [];
  const self = value.thisService;
  if (typeof self.name === 'string' && SERVICE_NAME.test(self.name)) services.push({ name: self.name, routes: routesOf(self.routes), events: eventNames(self.events) });
  for (const [name, peer] of Object.entries(value.connectedPeers)) {
    if (!SERVICE_NAME.test(name) || !isRecord(peer)) continue;
    const instances = Array.isArray(peer.instances) ? peer.instances : [];
    services.push({ name, routes: routesOf(peer.routes), events: eventNames(...instances.map((instance) => (isRecord(instance) ? instance.events : undefined))) });
  }
  return services;
}

/**
 * Every service the peers know, one list per peer, in the order the peers were given. Fails on
 * the first peer that cannot be reached or refuses: a partial list would make a partial file.
 */
export async function readCluster(origins: readonly string[], auth: PeerAuth): Promise<ServiceModel[][]> {
  const client = new PeerClient(auth);
  try {
    return await Promise.all(origins.map(async (origin) => parseServicesView(origin, await client.getJson(origin, PATH))));
  } finally {
    await client.close();
  }
}
