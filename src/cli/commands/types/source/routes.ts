/**
 * The routes a service publishes, from its registrations: they are laid out in the object shape
 * Express itself keeps (a router stack of route layers and mount layers, each handler a function
 * with the name the source gives it) and read with the library's own `readRoutes`, which names
 * routes, joins prefixes, skips `.all()` and merges duplicates exactly as the running service
 * does. The generated names are the published ones by construction, not by a second
 * implementation.
 */
import type * as TS from 'typescript';
import { readRoutes, type RouteDescriptor } from '../../../../routes/index.ts';
import type { Registration, RouteRegistration } from './registrations.ts';

/** A published route and the last handler of each registration behind it. */
export interface PublishedRoute {
  readonly route: RouteDescriptor;
  /** Usually one; two when the same method and path is registered twice. */
  readonly handlers: readonly (TS.Expression | undefined)[];
}

/** A function that carries a name, as Express's layers hold handlers. */
function namedFunction(name: string | undefined): () => void {
  const handler = (): void => {};
  Object.defineProperty(handler, 'name', { value: name ?? '' });
  return handler;
}

/**
 * What `app` publishes; `nameOf` gives each handler's run-time name, `identityOf` what is one
 * function at run time (one stand-in function each, so readRoutes numbers the handlers that
 * answer several routes as the running service does).
 */
export function publishedRoutes(
  registrations: ReadonlyMap<TS.Symbol, readonly Registration[]>,
  app: TS.Symbol,
  nameOf: (handler: TS.Expression) => string | undefined,
  identityOf: (handler: TS.Expression) => unknown = (handler) => handler,
): PublishedRoute[] {
  const functions = new Map<unknown, () => void>();
  const functionFor = (handler: TS.Expression): (() => void) => {
    const identity = identityOf(handler);
    let made = functions.get(identity);
    if (made === undefined) functions.set(identity, (made = namedFunction(nameOf(handler))));
    return made;
  };
  /** Express's shape for the app, with the route registrations `include` lets in. */
  function layout(include: (registration: RouteRegistration) => boolean): unknown {
    const made = new Map<TS.Symbol, { stack: unknown[] }>();
    const routerOf = (target: TS.Symbol): { stack: unknown[] } => {
      const existing = made.get(target);
      if (existing !== undefined) return existing;
      const router = { stack: [] as unknown[] };
      made.set(target, router);
      for (const registration of registrations.get(target) ?? []) {
        if (registration.kind === 'mount') {
          // router@2.3+ keeps a mount's path as rawPath; readRoutes reads it from there.
          router.stack.push({ handle: routerOf(registration.child), rawPath: registration.path });
        } else if (include(registration)) {
          // `.all()` layers carry no method, as Express's do.
          const method = registration.method === '_all' ? undefined : registration.method;
          router.stack.push({
            route: {
              path: registration.path,
              methods: { [registration.method]: true },
              stack: registration.handlers.map((handler) => ({ method, handle: functionFor(handler) })),
            },
          });
        }
      }
      return router;
    };
    return { router: routerOf(app) };
  }

  // Which registrations are behind each published route: laid out one at a time.
  const behind = new Map<string, (TS.Expression | undefined)[]>();
  for (const list of registrations.values()) {
    for (const registration of list) {
      if (registration.kind !== 'route') continue;
      for (const route of readRoutes(layout((candidate) => candidate === registration))) {
        const label = `${route.method} ${route.path}`;
        behind.set(label, [...(behind.get(label) ?? []), registration.handlers.at(-1)]);
      }
    }
  }
  return readRoutes(layout(() => true)).map((route) => ({ route, handlers: behind.get(`${route.method} ${route.path}`) ?? [undefined] }));
}
