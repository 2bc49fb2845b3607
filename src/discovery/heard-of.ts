/** The longest wait between two describes of one member, in probe intervals. */
const MAX_BACKOFF_INTERVALS = 4;

interface Entry {
  id: string;
  /** When this instance first heard of the member (this episode). */
  since: number;
  /** When a member last vouched for it (news, a push-pull, its own ping). */
  heard: number;
  attempts: number;
  retryAt: number;
}

/**
 * Members this instance has heard of (gossip, a push-pull, a ping from a stranger) but has not
 * described yet: their routes are unknown, so they are not in the table and calls cannot reach
 * them. A describe that fails is tried again after 1, 2, 4, 4… probe intervals (±25%, so that a
 * whole cluster does not retry in step) for as long as some member vouched for the member within
 * `forgetAfter`; before this, a describe lost once left a hole until news of the member happened
 * to come again (docs/discovery.md, "How fast a member is known everywhere").
 */
export class HeardOf {
  readonly #entries = new Map<string, Entry>();
  readonly #interval: number;
  readonly #forgetAfter: number;
  readonly #random: () => number;

  constructor(interval: number, forgetAfter: number, random: () => number) {
    this.#interval = interval;
    this.#forgetAfter = forgetAfter;
    this.#random = random;
  }

  /** How many members are waiting to be described. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Member `id` at `url` is said to be alive: kept until described. The caller describes it at
   * once; the first retry is due an interval later.
   */
  heard(url: string, id: string, now: number): void {
    const entry = this.#entries.get(url);
    if (entry && entry.id === id) {
      entry.heard = now;
      return;
    }
    this.#entries.set(url, { id, since: now, heard: now, attempts: 0, retryAt: now + this.#interval });
  }

  /** Described (or heard of by its own descriptor): nothing left to do. True when it was waited for. */
  described(url: string): boolean {
    return this.#entries.delete(url);
  }

  /** Member `id` at `url` was reported dead or gone: it is not waited for any longer. */
  forget(url: string, id: string): void {
    if (this.#entries.get(url)?.id === id) this.#entries.delete(url);
  }

  /** A describe of `url` ended without its descriptor: the next one waits longer. */
  failed(url: string, now: number): void {
    const entry = this.#entries.get(url);
    if (!entry) return;
    entry.attempts++;
    const intervals = Math.min(2 ** (entry.attempts - 1), MAX_BACKOFF_INTERVALS);
    entry.retryAt = now + Math.round(intervals * this.#interval * (0.75 + this.#random() * 0.5));
  }

  /**
   * The URLs whose describe is due again. A member nobody vouched for within `forgetAfter` is
   * dropped (it died before this instance could describe it, or left): news of it brings it back.
   */
  due(now: number): string[] {
    const due: string[] = [];
    for (const [url, entry] of this.#entries) {
      if (now - entry.heard > this.#forgetAfter) this.#entries.delete(url);
      else if (entry.retryAt <= now) due.push(url);
    }
    return due;
  }

  /** How many members heard of at least `age` ms ago are still not described, and how many of those failed at least once. */
  late(now: number, age: number): { late: number; failing: number } {
    let late = 0;
    let failing = 0;
    for (const entry of this.#entries.values()) {
      if (now - entry.since < age) continue;
      late++;
      if (entry.attempts > 0) failing++;
    }
    return { late, failing };
  }
}
