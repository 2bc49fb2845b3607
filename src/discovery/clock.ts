import { after, type Timer } from '../runtime/index.ts';

/**
 * Time as membership sees it: the system's, or a simulated one (the deterministic simulation in
 * test/simulation runs a thousand members on a virtual clock).
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `task` once after `ms`, unless stopped first; never holds the process open. */
  after(ms: number, task: () => void): Timer;
}

/** The system clock and timers. */
export const systemClock: Clock = { now: () => Date.now(), after };
