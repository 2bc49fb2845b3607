import type { HistogramSample } from './types.ts';

/** Upper bounds in seconds, Prometheus's defaults with 1 ms and 2.5 ms added for calls on a LAN. */
export const BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const BOUNDS = BUCKETS.length;

/**
 * A fixed-bucket histogram. `observe` is a short loop over 13 bounds and one increment: counts
 * are kept per bucket and made cumulative only when read.
 */
export class Histogram {
  /** Observations per bucket, not cumulative; the last slot holds those above every bound. */
  readonly #counts: Float64Array = new Float64Array(BOUNDS + 1);
  #sum = 0;

  /** Records one observation, in seconds. */
  observe(seconds: number): void {
    let index = 0;
    while (index < BOUNDS && seconds > (BUCKETS[index] as number)) index++;
    (this.#counts[index] as number)++;
    this.#sum += seconds;
  }

  /** The cumulative view Prometheus expects, with `labels`. */
  sample(labels: Record<string, string>): HistogramSample {
    const buckets: { le: number; count: number }[] = [];
    let total = 0;
    for (let index = 0; index < BOUNDS; index++) {
      total += this.#counts[index] as number;
      buckets.push({ le: BUCKETS[index] as number, count: total });
    }
    total += this.#counts[BOUNDS] as number;
    return { labels, count: total, sum: this.#sum, buckets };
  }
}
