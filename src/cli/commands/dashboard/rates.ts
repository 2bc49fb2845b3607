/**
 * Call rate, error rate and latency percentiles per service over a sliding window of polls: each
 * poll adds what every caller's counters grew by since the one before (counters.ts); the figures
 * are the sums over the polls of the last `windowMs`, divided by the time they span (README,
 * "Dashboard"). A window of several polls keeps a rate readable when calls are sparse.
 */
import { sortedBuckets, type ServiceDelta } from './counters.ts';
import { histogramQuantile } from './quantile.ts';

/** One service's figures over the window. */
export interface ServiceRates {
  /** Calls made to the service per second, by every caller that answered. */
  readonly callsPerSecond: number;
  /** The share of those calls whose outcome was not `ok` (0–1); `null` when there were none. */
  readonly errorRate: number | null;
  /** Latency percentiles in seconds; `null` when no call was timed. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

interface Poll {
  /** When the poll before it was read, and this one (ms): the interval its increases cover. */
  readonly from: number;
  readonly to: number;
  readonly deltas: ReadonlyMap<string, ServiceDelta>;
}

/** The last polls' increases, and the figures they give. */
export class RateWindow {
  readonly #windowMs: number;
  readonly #polls: Poll[] = [];

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Adds the increases read at `to`, covering the time since `from`, and drops polls older than the window. */
  add(from: number, to: number, deltas: ReadonlyMap<string, ServiceDelta>): void {
    this.#polls.push({ from, to, deltas });
    while (this.#polls.length > 1 && (this.#polls[0] as Poll).to <= to - this.#windowMs) this.#polls.shift();
  }

  /** The seconds the kept polls span; 0 before the first increase. */
  seconds(): number {
    const first = this.#polls[0];
    const last = this.#polls.at(-1);
    return first === undefined || last === undefined ? 0 : (last.to - first.from) / 1000;
  }

  /** Figures for `service` over the window; `null` before any poll covered any time. */
  rates(service: string): ServiceRates | null {
    const seconds = this.seconds();
    if (seconds <= 0) return null;
    let calls = 0;
    let errors = 0;
    let observed = 0;
    const buckets = new Map<number, number>();
    for (const poll of this.#polls) {
      const delta = poll.deltas.get(service);
      if (delta === undefined) continue;
      calls += delta.calls;
      errors += delta.errors;
      observed += delta.observed;
      for (const [le, value] of delta.buckets) buckets.set(le, (buckets.get(le) ?? 0) + value);
    }
    const sorted = sortedBuckets(buckets);
    return {
      callsPerSecond: calls / seconds,
      errorRate: calls === 0 ? null : errors / calls,
      p50: histogramQuantile(0.5, sorted, observed),
      p95: histogramQuantile(0.95, sorted, observed),
      p99: histogramQuantile(0.99, sorted, observed),
    };
  }

  /** Every service some poll in the window saw calls to. */
  services(): Set<string> {
    const names = new Set<string>();
    for (const poll of this.#polls) for (const name of poll.deltas.keys()) names.add(name);
    return names;
  }
}
