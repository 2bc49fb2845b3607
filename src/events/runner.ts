/**
 * Runs event handlers off the request that delivered them, at most `maxInFlight` at once, with
 * at most `maxQueued` waiting. A delivery is accepted only when it fits, so a slow handler makes
 * this instance refuse more (the emitter tries another of the group) instead of holding sockets
 * open or growing without bound; probes and calls are never behind a handler.
 */
export class HandlerRunner {
  readonly #maxInFlight: number;
  readonly #maxQueued: number;
  readonly #queue: (() => Promise<void>)[] = [];
  #running = 0;
  #idle: (() => void)[] = [];

  constructor(maxInFlight: number, maxQueued: number) {
    this.#maxInFlight = maxInFlight;
    this.#maxQueued = maxQueued;
  }

  /** Handler runs started and not finished, plus those waiting. */
  get size(): number {
    return this.#running + this.#queue.length;
  }

  /** Queues `run`; false (and nothing queued) when the queue is full. */
  offer(run: () => Promise<void>): boolean {
    if (this.#running >= this.#maxInFlight && this.#queue.length >= this.#maxQueued) return false;
    this.#queue.push(run);
    this.#next();
    return true;
  }

  /** Resolves once every accepted run has finished. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #next(): void {
    while (this.#running < this.#maxInFlight && this.#queue.length > 0) {
      const run = this.#queue.shift() as () => Promise<void>;
      this.#running++;
      // A handler never throws into here: `run` catches and counts its own failure.
      void run().finally(() => {
        this.#running--;
        this.#next();
        if (this.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
    }
  }
}
