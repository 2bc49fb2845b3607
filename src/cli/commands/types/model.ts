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

/** One service and every route its instances publish. */
export interface ServiceModel {
  /** The name the service publishes (`user-service`). */
  readonly name: string;
  readonly routes: readonly RouteModel[];
}

/**
 * Services by the key the proxy finds them under (serviceKey: `user-service` and `user_service`
 * are one service to it), routes by method and path. A later source wins over an earlier one for
 * a whole service, so `--app` (with answer types) replaces what `--peer` saw of the same service.
 */
export class ServiceSet {
  readonly #services = new Map<string, ServiceModel>();

  /** Adds what one peer reported: routes of the same service are merged, names united. */
  merge(service: ServiceModel): void {
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
    this.#services.set(serviceKey(service.name), service);
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
