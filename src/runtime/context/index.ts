import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * A value that follows one request's work across `await`s, callbacks and timers, without being
 * passed by hand (AsyncLocalStorage, which Node, Bun and Deno all provide). Used for the
 * deadline a request arrived with (docs/ARCHITECTURE.md, "A call").
 */
export interface RequestContext<T> {
  /** Runs `work` with `value` as the current value, for everything it starts. */
  run<R>(value: T, work: () => R): R;
  /** The current value, or undefined outside `run`. */
  get(): T | undefined;
}

/** Creates a context of its own (one per plugin instance, so two in one process never mix). */
export function createRequestContext<T>(): RequestContext<T> {
  const storage = new AsyncLocalStorage<T>();
  return {
    run: (value, work) => storage.run(value, work),
    get: () => storage.getStore(),
  };
}
