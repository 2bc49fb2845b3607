/** The highest score: timeouts and the probe interval stretch up to (score + 1) = 9 times. */
const MAX_SCORE = 8;

/**
 * How healthy this instance itself seems (Lifeguard's local health awareness; docs/ARCHITECTURE.md,
 * "Membership"). A probe that fails while the members asked to help do not even answer, a timer
 * that fires far too late (a blocked event loop), or being suspected by others all point at this
 * instance, not at the member it probed: each raises the score, and the score stretches this
 * instance's probe timeout and interval, so that a slow instance stops accusing healthy ones.
 * Every successful probe lowers it again.
 */
export class LocalHealth {
  #score = 0;

  get score(): number {
    return this.#score;
  }

  /** What probe timeouts and the probe interval are multiplied by. */
  get multiplier(): number {
    return this.#score + 1;
  }

  worse(by = 1): void {
    this.#score = Math.min(MAX_SCORE, this.#score + by);
  }

  better(): void {
    this.#score = Math.max(0, this.#score - 1);
  }
}
