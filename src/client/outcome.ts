import { ConnectionError, MissingParameterError, RemoteError, ServiceUnavailableError, TimeoutError } from '../errors/index.ts';
import { Outcome } from '../metrics/index.ts';
import { TransportError } from '../runtime/index.ts';

/**
 * The `outcome` label of a failed call, from what it threw: an answer (4xx or other non-2xx below
 * 500 is `client_error`, 5xx `server_error`), `timeout`, `connection_error` (a connection broke, or
 * every instance tried refused it), `unavailable` (no instance to call), `aborted` (the caller's
 * signal), `invalid_arguments` (a path parameter missing), else `error`.
 */
export function outcomeOf(error: unknown, signal: AbortSignal | undefined): number {
  if (error instanceof RemoteError) return error.status >= 500 ? Outcome.serverError : Outcome.clientError;
  if (error instanceof TimeoutError) return Outcome.timeout;
  if (error instanceof ConnectionError) return Outcome.connectionError;
  if (error instanceof ServiceUnavailableError) {
    const cause = error.cause;
    return cause instanceof TransportError && (cause.kind === 'connect' || cause.kind === 'reset') ? Outcome.connectionError : Outcome.unavailable;
  }
  if (signal?.aborted || (error instanceof TransportError && error.kind === 'abort')) return Outcome.aborted;
  if (error instanceof MissingParameterError) return Outcome.invalidArguments;
  return Outcome.error;
}
