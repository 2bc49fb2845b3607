/**
 * `maxInFlight`, shared by every subscription of an instance: a consumer takes slots before it
 * reads (as many entries as it got slots, so Redis never hands this instance more than it can
 * run), and each entry gives its slot back once it is acknowledged, dead-lettered or left pending.
 */
export class Slots {
  readonly #max: number;
  #used = 0;
  #waiting: { most: number; resolve: (taken: number) => void }[] = [];
  #closed = false;

  /** `max`: the most entries in flight at once. */
  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  /** Entries in flight now. */
  get used(): number {
    return this.#used;
  }

  /**
   * Takes between 1 and `most` slots, as many as are free, waiting until one is; resolves with how
   * many were taken (0 once closed: the caller stops).
   */
  take(most: number): Promise<number> {
    if (this.#closed) return Promise.resolve(0);
    const free = this.#max - this.#used;
    if (free > 0 && this.#waiting.length === 0) {
      const taken = Math.min(free, Math.max(1, most));
      this.#used += taken;
      return Promise.resolve(taken);
    }
    return new Promise((resolve) => this.#waiting.push({ most: Math.max(1, most), resolve }));
  }

  /** Gives `count` slots back, and hands them to whoever waits. */
  give(count: number): void {
    if (count <= 0) return;
    this.#used = Math.max(0, this.#used - count);
    while (this.#waiting.length > 0 && this.#used < this.#max) {
      const waiter = this.#waiting.shift() as { most: number; resolve: (taken: number) => void };
      const taken = Math.min(this.#max - this.#used, waiter.most);
      this.#used += taken;
      waiter.resolve(taken);
    }
  }

  /** Stops handing out slots: every waiter gets 0. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter.resolve(0);
  }
}
