/**
 * Deadlines that cross services (docs/ARCHITECTURE.md, "A call"): every call tells the callee how
 * long it has left in `x-micro-timeout` (milliseconds, relative, so the two clocks need not
 * agree). A request that arrives with it runs with that deadline as its context, and every call
 * its handlers make, however deep in their `await`s, ends no later: a route that calls another
 * service inherits what is left of its own caller's time without passing it by hand.
 */
import type { IncomingRequest } from '../express.ts';
import { createRequestContext } from '../runtime/index.ts';

/** The header that carries the time a call has left, in ms. */
export const DEADLINE_HEADER = 'x-micro-timeout';

/** The longest deadline taken from a request: a day. Longer, malformed or zero values are ignored. */
const MAX_MS = 86_400_000;
const DIGITS = /^[0-9]{1,8}$/;

/** The deadlines of the requests this instance is serving, for the calls they make. */
export class Deadlines {
  readonly #context = createRequestContext<number>();

  /** Runs `next` (the app's handling of `request`) under the deadline the request carries, if any. */
  within(request: IncomingRequest, next: () => unknown): unknown {
    const value = request.headers[DEADLINE_HEADER];
    if (typeof value !== 'string' || !DIGITS.test(value)) return next();
    const ms = Number(value);
    if (ms < 1 || ms > MAX_MS) return next();
    return this.#context.run(Date.now() + ms, next);
  }

  /** The deadline (ms since the epoch) of the request being served here, if it came with one. */
  current(): number | undefined {
    return this.#context.get();
  }
}
