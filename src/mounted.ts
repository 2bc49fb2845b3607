/**
 * An app mounted in another (`parent.use('/v2', subApp)`) that called `expressMicro()` itself is
 * not a second member: the app that listens answers its routes, and publishes them under the
 * mount path (src/routes/sub-app.ts). Its own handle stands for the micro of the nearest app
 * above it that has one (docs/routing.md, "Sub-apps"). Express marks a mounted app with
 * `parent` and tells it through its `mount` event.
 */
import type { Services } from './client/index.ts';

/** The part of a handle a mounted sub-app's handle hands on to the one above it. */
export interface Delegate {
  readonly services: Services;
}

const micros = new WeakMap<object, Delegate>();

/** Notes that `app` has its own micro, so that apps mounted under it find it. */
export function registerMicro(app: object, micro: Delegate): void {
  micros.set(app, micro);
}

/** Whether `app` is mounted in another Express app. */
export function isMounted(app: object): boolean {
  return parentOf(app) !== undefined;
}

/** The micro of the nearest app above `app` that has one, if any. */
export function microAbove<T extends Delegate>(app: object): T | undefined {
  const seen = new Set<object>([app]);
  for (let parent = parentOf(app); parent !== undefined && !seen.has(parent); parent = parentOf(parent)) {
    const micro = micros.get(parent);
    if (micro !== undefined) return micro as T;
    seen.add(parent);
  }
  return undefined;
}

function parentOf(app: object): object | undefined {
  const parent = (app as { parent?: unknown }).parent;
  return typeof parent === 'function' && typeof (parent as { handle?: unknown }).handle === 'function' ? parent : undefined;
}

/**
 * `services` that reach the cluster of the micro above `app` once it is mounted under one, and
 * `own` until then: users take `services` when they set the sub-app up, before it is mounted.
 */
export function forwardingServices(app: object, own: Services): Services {
  return new Proxy(Object.create(null) as Services, {
    get: (_target, property) => Reflect.get(microAbove(app)?.services ?? own, property),
    has: (_target, property) => Reflect.has(own, property),
    set: () => false,
    deleteProperty: () => false,
  });
}
