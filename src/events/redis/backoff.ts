/**
 * The waits of the durable transport: between two runs of a failed handler, and between two
 * attempts to reconnect to Redis. Both double from a small start to a cap and are jittered, so
 * that the consumers of a group that failed together (Redis restarted, a dependency of the
 * handlers went down) do not come back in lockstep.
 */

/** The first retry's wait (ms). */
export const RETRY_BASE = 100;
/** The longest wait between two runs of a handler (ms). */
export const RETRY_CAP = 5000;
/** The first reconnection's wait (ms). */
export const RECONNECT_BASE = 50;
/** The longest wait between two reconnection attempts (ms): Redis back is noticed within it. */
export const RECONNECT_CAP = 2000;

/**
 * The wait (ms) after run `attempt` (1-based) of a handler failed: 100 ms × 2^(attempt − 1),
 * at most 5 s, of which a random half (equal jitter: never less than half the step).
 */
export function retryDelay(attempt: number, random: () => number = Math.random): number {
  return jittered(Math.min(RETRY_CAP, RETRY_BASE * 2 ** Math.max(0, attempt - 1)), random);
}

/** The wait (ms) before reconnection attempt `retries` (0-based): 50 ms × 2^retries, at most 2 s, jittered as {@link retryDelay}. */
export function reconnectDelay(retries: number, random: () => number = Math.random): number {
  return jittered(Math.min(RECONNECT_CAP, RECONNECT_BASE * 2 ** Math.min(retries, 20)), random);
}

function jittered(step: number, random: () => number): number {
  return Math.round(step / 2 + (step / 2) * random());
}
