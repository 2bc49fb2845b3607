/**
 * What `express-micro types` knows about a service before it writes anything: the routes it
 * publishes (method, path, call names, as on the wire) and, when read from source, each route's
 * answer type. Both sources, a live cluster and TypeScript source, produce this.
 */
import { serviceKey } from '../../../discovery/service-name.ts';
import type { RouteDescriptor } from '../../../routes/index.ts';

/** One route, as published, with its answer type when it is known. */
export interface RouteModel extends RouteDescriptor {
  /** The answer as a standalone TypeScript type (`{ id: string }`); absent when unknown. */
  readonly answer?: string | undefined;
  /** Why the answer is unknown or partly unknown, for the generated comment. */
  readonly note?: string | undefined;
}

/** An event a service subscribes to, with its payload type when the source shows it. */
export interface EventModel {
  /** The event's name (`order.created`), checked against the library's event-name rule. */
  readonly name: string;
  /** The payload as a standalone TypeScript type (the JSON the handler receives); absent when unknown. */
  readonly payload?: string | undefined;
  /** Why the payload is partly unknown, for the generated comment. */
  readonly note?: string | undefined;
}

/** One service and every route its instances publish. */
export interface ServiceModel {
  /** The name the service publishes (`user-service`). */
  readonly name: string;
  readonly routes: readonly RouteModel[];
  /** The events its instances subscribe to; absent or empty when none. */
  readonly events?: readonly EventModel[] | undefined;
}

/** One event of the cluster, as the file declares it: who subscribes, and what each says of its payload. */
export interface ClusterEvent {
  readonly name: string;
  /** The services that subscribe to it, sorted. */
  readonly services: readonly string[];
  /** The payload types the subscribers' source declares (none from a running cluster). */
  readonly payloads: readonly { readonly service: string; readonly type: string; readonly note?: string | undefined }[];
}

/**
 * Services by the key the proxy finds them under (serviceKey: `user-service` and `user_service`
 * are one service to it), routes by method and path. A later source wins over an earlier one for
 * a whole service, so `--app` (with answer types) replaces what `--peer` saw of the same service.
 */
export class ServiceSet {
  readonly #services = new Map<string, ServiceModel>();
  /**
   * Events by name, with every subscriber any source named. Unlike routes they are not replaced
   * by `--app`: `EventRegistry` is one for the whole cluster, and a source that cannot see a
   * subscription (a name that is not a literal) must not hide one a running instance publishes.
   */
  readonly #events = new Map<string, Map<string, EventModel[]>>();

  #addEvents(service: ServiceModel): void {
    for (const event of service.events ?? []) {
      let byService = this.#events.get(event.name);
      if (byService === undefined) this.#events.set(event.name, (byService = new Map()));
      const list = byService.get(service.name);
      if (list === undefined) byService.set(service.name, [event]);
      else list.push(event);
    }
  }

  /** Adds what one peer reported: routes of the same service are merged, names united. */
  merge(service: ServiceModel): void {
    this.#addEvents(service);
    const key = serviceKey(service.name);
    const known = this.#services.get(key);
    if (known === undefined) {
      this.#services.set(key, { name: service.name, routes: service.routes.map((route) => ({ ...route, names: [...route.names] })) });
      return;
    }
    const routes = new Map(known.routes.map((route) => [`${route.method} ${route.path}`, route]));
    for (const route of service.routes) {
      const label = `${route.method} ${route.path}`;
      const existing = routes.get(label);
      routes.set(label, existing === undefined ? route : { ...existing, names: [...new Set([...existing.names, ...route.names])] });
    }
    // Two spellings of one service (rare: `user-service` and `user_service` both running): the
    // first in code-unit order names it, so the output does not depend on which peer answered first.
    const name = known.name < service.name ? known.name : service.name;
    this.#services.set(key, { name, routes: [...routes.values()] });
  }

  /** Puts `service` in place of whatever was known of it. */
  replace(service: ServiceModel): void {
    this.#addEvents(service);
    this.#services.set(serviceKey(service.name), service);
  }

  /** Every event subscribed to, sorted by name; each with its subscribers and their payload types, sorted. */
  events(): ClusterEvent[] {
    return [...this.#events.entries()]
      .sort((a, b) => compare(a[0], b[0]))
      .map(([name, byService]) => {
        const services = [...byService.keys()].sort(compare);
        const payloads = services.flatMap((service) => {
          const typed = (byService.get(service) ?? []).filter((event) => event.payload !== undefined);
          return [...new Map(typed.map((event) => [event.payload as string, { service, type: event.payload as string, note: event.note }])).values()];
        });
        return { name, services, payloads };
      });
  }

  /** Every service, sorted by name. */
  list(): ServiceModel[] {
    return [...this.#services.values()].sort((a, b) => compare(a.name, b.name));
  }
}

/** Code-unit order: the same on every machine, whatever its locale. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
