const WINDOW = 128;
const STRIDE = 16;
/** Answers needed before a p95 is trusted enough to hedge on. */
const HEDGE_MIN_SAMPLES = 10;

/**
 * Observed latency of one service, for the per-attempt timeout of idempotent calls (Envoy's
 * `per_try_timeout`, set from what the service actually does rather than by hand). The estimate
 * is TCP's retransmission timer (RFC 6298): a smoothed mean and a smoothed mean deviation, each
 * updated in O(1) per answer with no allocation. It also keeps the recent p95, which hedging waits
 * before asking a second instance. See docs/ARCHITECTURE.md, "A call".
 */
export class LatencyEstimate {
  #smoothed = 0;
  #deviation = 0;
  #samples = 0;
  // The last WINDOW round trips, for the p95 that hedging waits (recomputed every STRIDE answers,
  // in a scratch array made once: no allocation per call).
  readonly #window = new Float64Array(WINDOW);
  readonly #scratch = new Float64Array(WINDOW);
  #p95 = 0;

  /** Adds one answer's round trip, in ms. */
  observe(ms: number): void {
    this.#window[this.#samples % WINDOW] = ms;
    if (this.#samples % STRIDE === 0 || this.#samples < STRIDE) this.#updateP95(Math.min(this.#samples + 1, WINDOW));
    if (this.#samples++ === 0) {
      this.#smoothed = ms;
      this.#deviation = ms / 2;
      return;
    }
    this.#deviation += (Math.abs(this.#smoothed - ms) - this.#deviation) / 4;
    this.#smoothed += (ms - this.#smoothed) / 8;
  }

  #updateP95(count: number): void {
    const sorted = this.#scratch.subarray(0, count);
    sorted.set(this.#window.subarray(0, count));
    sorted.sort();
    this.#p95 = sorted[Math.min(count - 1, Math.ceil(0.95 * count) - 1)]!;
  }

  /** The 95th percentile of the recent round trips, in ms; undefined until HEDGE_MIN_SAMPLES were seen. */
  p95(): number | undefined {
    return this.#samples < HEDGE_MIN_SAMPLES ? undefined : this.#p95;
  }

  /** How many answers have been observed: the clock the balancer ages its estimates by. */
  answers(): number {
    return this.#samples;
  }

  /** The smoothed mean in ms (0 before the first answer): where a new instance's cost starts. */
  mean(): number {
    return this.#smoothed;
  }

  /**
   * How long one attempt may take before the call moves to another instance: three times the
   * RFC 6298 bound (mean + 4 deviations), at least `floor` ms; undefined until an answer was seen.
   */
  attemptTimeout(floor: number): number | undefined {
    if (this.#samples === 0) return undefined;
    return Math.max(floor, Math.ceil(3 * (this.#smoothed + 4 * this.#deviation)));
  }
}
