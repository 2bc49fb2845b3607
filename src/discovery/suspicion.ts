import type { Clock } from './clock.ts';
import type { Timer } from '../runtime/index.ts';

/** Lifeguard's cap: a suspicion with no confirmations lasts this many times the minimum. */
const MAX_TIMEOUT_MULTIPLIER = 6;

/**
 * The shortest a suspicion lasts: `multiplier × max(1, log10 N) × interval`, so that news of it
 * (and the suspect's refutation) has time to spread through a cluster of N.
 */
export function minimumSuspicion(multiplier: number, members: number, interval: number): number {
  return Math.round(multiplier * Math.max(1, Math.log10(Math.max(1, members))) * interval);
}

/**
 * One member under suspicion (Lifeguard's dynamic suspicion; docs/ARCHITECTURE.md,
 * "Membership"). It starts at the maximum timeout and shrinks towards the minimum, on a log
 * scale, as other members independently suspect the same incarnation: one member's bad link is
 * not enough to kill, several members' agreement is quick.
 */
export class Suspicion {
  readonly incarnation: number;
  readonly #confirmed = new Set<string>();
  readonly #expected: number;
  readonly #minimum: number;
  readonly #maximum: number;
  readonly #started: number;
  readonly #clock: Clock;
  readonly #expire: () => void;
  #timer: Timer;

  /**
   * @param from who suspected it first (never counted as a confirmation)
   * @param expected confirmations that bring the timeout down to the minimum (0: start there)
   */
  constructor(incarnation: number, from: string, expected: number, minimum: number, clock: Clock, expire: () => void) {
    this.incarnation = incarnation;
    this.#confirmed.add(from);
    this.#expected = expected;
    this.#minimum = minimum;
    this.#maximum = expected < 1 ? minimum : MAX_TIMEOUT_MULTIPLIER * minimum;
    this.#started = clock.now();
    this.#clock = clock;
    this.#expire = expire;
    this.#timer = clock.after(this.#maximum, expire);
  }

  /** The timeout after `confirmations` independent confirmations, in ms from the start. */
  timeout(confirmations: number): number {
    if (this.#expected < 1) return this.#minimum;
    const fraction = Math.log(confirmations + 1) / Math.log(this.#expected + 1);
    return Math.max(this.#minimum, Math.round(this.#maximum - fraction * (this.#maximum - this.#minimum)));
  }

  /** Counts a suspicion from `from`; a new one shortens the timer. False when it was known. */
  confirm(from: string): boolean {
    if (this.#confirmed.has(from) || this.#confirmed.size > this.#expected) return false;
    this.#confirmed.add(from);
    this.#timer.stop();
    const left = this.timeout(this.#confirmed.size - 1) - (this.#clock.now() - this.#started);
    this.#timer = this.#clock.after(Math.max(0, left), this.#expire);
    return true;
  }

  stop(): void {
    this.#timer.stop();
  }
}
