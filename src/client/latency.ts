/**
 * Observed latency of one service, for the per-attempt timeout of idempotent calls (Envoy's
 * `per_try_timeout`, set from what the service actually does rather than by hand). The estimate
 * is TCP's retransmission timer (RFC 6298): a smoothed mean and a smoothed mean deviation, each
 * updated in O(1) per answer with no allocation. See docs/ARCHITECTURE.md, "A call".
 */
export class LatencyEstimate {
  #smoothed = 0;
  #deviation = 0;
  #samples = 0;

  /** Adds one answer's round trip, in ms. */
  observe(ms: number): void {
    if (this.#samples++ === 0) {
      this.#smoothed = ms;
      this.#deviation = ms / 2;
      return;
    }
    this.#deviation += (Math.abs(this.#smoothed - ms) - this.#deviation) / 4;
    this.#smoothed += (ms - this.#smoothed) / 8;
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
