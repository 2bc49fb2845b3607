/**
 * What a request being served hands to the calls its handlers make, however deep in their
 * `await`s (docs/ARCHITECTURE.md, "A call"), kept in one AsyncLocalStorage so a call reads it once:
 *
 * - its **deadline**: every call tells the callee how long it has left in `x-micro-timeout`
 *   (milliseconds, relative, so the two clocks need not agree), and a request that arrives with it
 *   is served under it: a route that calls another service inherits what is left of its own
 *   caller's time without passing it by hand;
 * - its **trace** (W3C `traceparent` and `tracestate`, `trace.ts`), which the calls carry on.
 */
import type { IncomingRequest } from '../express.ts';
import { createRequestContext, withRemoteParent } from '../runtime/index.ts';
import { readTrace, TRACEPARENT_HEADER, TRACESTATE_HEADER, type IncomingTrace } from './trace.ts';

/** The header that carries the time a call has left, in ms. */
export const DEADLINE_HEADER = 'x-micro-timeout';

/** The longest deadline taken from a request: a day. Longer, malformed or zero values are ignored. */
const MAX_MS = 86_400_000;
const DIGITS = /^[0-9]{1,8}$/;

/** What the request being served passes on to its calls. */
export interface ServedRequest {
  /** The request's deadline (ms since the epoch), if it came with one. */
  readonly deadline: number | undefined;
  /** The request's trace, if it came with a valid `traceparent`. */
  readonly trace: IncomingTrace | undefined;
}

function readDeadline(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !DIGITS.test(value)) return undefined;
  const ms = Number(value);
  return ms < 1 || ms > MAX_MS ? undefined : Date.now() + ms;
}

/** The requests this instance is serving, for the calls they make. */
export class ServedRequests {
  readonly #context = createRequestContext<ServedRequest>();

  /**
   * Runs `next` (the app's handling of `request`) with the deadline and trace the request
   * carries; a request with neither runs as it is, with nothing allocated.
   */
  within(request: IncomingRequest, next: () => unknown): unknown {
    const headers = request.headers;
    const deadline = readDeadline(headers[DEADLINE_HEADER]);
    const traceparent = headers[TRACEPARENT_HEADER];
    const trace = traceparent === undefined ? undefined : readTrace(traceparent, headers[TRACESTATE_HEADER]);
    if (deadline === undefined && trace === undefined) return next();
    const served: ServedRequest = { deadline, trace };
    if (trace === undefined) return this.#context.run(served, next);
    // With an OpenTelemetry SDK and no server span, the trace also becomes OpenTelemetry's parent.
    return this.#context.run(served, () => withRemoteParent(trace, next));
  }

  /** What the request being served here passes on, or undefined outside one (or for a plain one). */
  current(): ServedRequest | undefined {
    return this.#context.get();
  }
}
