/**
 * A retry budget per service, as Finagle's (docs/ARCHITECTURE.md, "A call"): retries may add at
 * most `ratio` of the calls made in the last 10 s, plus `minPerSecond` retries a second, so that a
 * sick service is not hit by a retry storm on top of its normal load. Ten one-second buckets, O(1)
 * per call, no allocation after construction.
 */

/** Retry budget settings (option `retryBudget`). */
export interface RetryBudgetSettings {
  /** Retries allowed per call made, over the window (0.2: one retry for every five calls). */
  ratio: number;
  /** Retries allowed per second whatever the traffic, so a quiet service can still retry. */
  minPerSecond: number;
}

const BUCKETS = 10;
const BUCKET_MS = 1000;

/** Counts calls and retries of one service over the last ten seconds. */
export class RetryBudget {
  readonly #settings: RetryBudgetSettings;
  readonly #calls = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #second = 0;

  constructor(settings: RetryBudgetSettings) {
    this.#settings = settings;
  }

  /** Moves the window to `now`, clearing the buckets of seconds that have passed. */
  #advance(now: number): number {
    const second = Math.floor(now / BUCKET_MS);
    if (second !== this.#second) {
      const passed = Math.min(BUCKETS, second - this.#second);
      for (let step = 1; step <= passed; step++) {
        const slot = (this.#second + step) % BUCKETS;
        this.#calls[slot] = 0;
        this.#retries[slot] = 0;
      }
      this.#second = second;
    }
    return second % BUCKETS;
  }

  /** A call is made (its first attempt). */
  deposit(now: number): void {
    const calls = this.#calls;
    calls[this.#advance(now)]! += 1;
  }

  /** Whether a retry may be sent now; counts it when it may. */
  withdraw(now: number): boolean {
    const slot = this.#advance(now);
    let calls = 0;
    let retries = 0;
    for (let index = 0; index < BUCKETS; index++) {
      calls += this.#calls[index]!;
      retries += this.#retries[index]!;
    }
    if (retries >= this.#settings.ratio * calls + this.#settings.minPerSecond * BUCKETS) return false;
    this.#retries[slot]! += 1;
    return true;
  }
}
