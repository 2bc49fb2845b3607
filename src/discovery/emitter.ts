import type { DiscoveryEvent, InstanceInfo } from './types.ts';

/** A listener for one of the membership events. */
export type InstanceListener = (instance: InstanceInfo) => void;

/**
 * A small event emitter: no dependency on node:events, so it runs on every runtime. A listener
 * that throws is reported to `onListenerError` and does not stop the others.
 */
export class Emitter {
  readonly #listeners = new Map<DiscoveryEvent, Set<InstanceListener>>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  on(event: DiscoveryEvent, listener: InstanceListener): void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
  }

  off(event: DiscoveryEvent, listener: InstanceListener): void {
    this.#listeners.get(event)?.delete(listener);
  }

  emit(event: DiscoveryEvent, instance: InstanceInfo): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(instance);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
