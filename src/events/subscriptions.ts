import type { EventHandler, PublishedSubscription } from './types.ts';

/**
 * This instance's subscriptions: handlers by event and group. What it publishes with its routes
 * is derived from them (sorted, so the descriptor's revision changes only when they do).
 */
export class Subscriptions {
  readonly #byEvent = new Map<string, Map<string, Set<EventHandler>>>();
  #published: PublishedSubscription[] = [];

  /** Adds `handler` for `event` in `group`; returns what removes it again. */
  add(event: string, group: string, handler: EventHandler): () => void {
    let groups = this.#byEvent.get(event);
    if (!groups) this.#byEvent.set(event, (groups = new Map()));
    let handlers = groups.get(group);
    if (!handlers) groups.set(group, (handlers = new Set()));
    const fresh = handlers.size === 0;
    handlers.add(handler);
    if (fresh) this.#publish();
    return () => {
      if (!handlers.delete(handler) || handlers.size > 0) return;
      groups.delete(group);
      if (groups.size === 0) this.#byEvent.delete(event);
      this.#publish();
    };
  }

  /** The handlers an `emit` to `group` runs here, or those of every group for a broadcast (`group` undefined). */
  handlers(event: string, group: string | undefined): EventHandler[] {
    const groups = this.#byEvent.get(event);
    if (!groups) return [];
    if (group !== undefined) return [...(groups.get(group) ?? [])];
    const all = new Set<EventHandler>();
    for (const handlers of groups.values()) for (const handler of handlers) all.add(handler);
    return [...all];
  }

  /** The (event, group) pairs with at least one handler, sorted: what this instance publishes. */
  published(): PublishedSubscription[] {
    return this.#published;
  }

  #publish(): void {
    const pairs: PublishedSubscription[] = [];
    for (const [event, groups] of this.#byEvent) for (const group of groups.keys()) pairs.push({ event, group });
    pairs.sort((a, b) => (a.event === b.event ? compare(a.group, b.group) : compare(a.event, b.event)));
    this.#published = pairs;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
