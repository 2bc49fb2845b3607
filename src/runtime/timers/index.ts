/** A stoppable repeating or one-shot timer that never keeps the process alive. */
export interface Timer {
  stop(): void;
}

type Handle = ReturnType<typeof setTimeout> | number;

function unref(handle: Handle): void {
  if (typeof handle === 'object' && handle !== null && 'unref' in handle) {
    handle.unref();
    return;
  }
  // Deno returns numeric ids and unrefs them through its namespace.
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  if (typeof handle === 'number') deno?.unrefTimer?.(handle);
}

/** Runs `task` every `ms` milliseconds until stopped; does not hold the process open. */
export function every(ms: number, task: () => void): Timer {
  const handle = setInterval(task, ms) as Handle;
  unref(handle);
  return { stop: () => clearInterval(handle as ReturnType<typeof setInterval>) };
}

/** Runs `task` once after `ms` milliseconds unless stopped first; does not hold the process open. */
export function after(ms: number, task: () => void): Timer {
  const handle = setTimeout(task, ms) as Handle;
  unref(handle);
  return { stop: () => clearTimeout(handle as ReturnType<typeof setTimeout>) };
}

/**
 * Resolves after `ms` milliseconds. Unlike `after`, it holds the process open while it waits:
 * it is a call's backoff between two attempts, and the call is still running.
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Milliseconds on a monotonic clock with sub-millisecond resolution, for durations only (metrics:
 * a loopback call takes well under the 1 ms `Date.now()` resolves).
 */
export function monotonicNow(): number {
  return performance.now();
}
