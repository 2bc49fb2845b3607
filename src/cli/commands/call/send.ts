/**
 * Sends one call from outside the cluster, as a member's `services` proxy would (docs/
 * ARCHITECTURE.md, "A call"), minus what only a member has (a balancer's statistics, retry
 * budgets, hedging): to the UP instances in turn, the next one only when a connection could not
 * be made (nothing was sent) or, for an idempotent method, broke; one deadline for all attempts.
 */
import { DEADLINE_HEADER } from '../../../client/request-context.ts';
import { buildBody, buildPath, decodeBody } from '../../../client/request.ts';
import type { CompiledRoute } from '../../../client/route-index.ts';
import type { CallArguments } from '../../../client/types.ts';
import { ConnectionError, RemoteError, ServiceUnavailableError, TimeoutError } from '../../../errors/index.ts';
import { createHttpClient, TransportError, type TlsMaterial } from '../../../runtime/index.ts';
import { signRequest } from '../../../security/hmac.ts';
import type { InstanceRow } from '../../cluster-view.ts';
import { CliError } from '../../errors.ts';

/** One call to make. */
export interface OutgoingCall {
  /** The service's registered name, for error messages. */
  readonly service: string;
  readonly call: string;
  readonly route: CompiledRoute;
  readonly args: CallArguments | undefined;
  /** The instances to try, in order (UP ones only). */
  readonly instances: readonly InstanceRow[];
  /** Every service the peers know, for {@link ServiceUnavailableError}. */
  readonly known: readonly string[];
  readonly timeout: number;
  /** The secret, to sign the call when the cluster signs (`--hmac`); undefined to send it plain. */
  readonly signWith: string | undefined;
  readonly signal: AbortSignal | undefined;
  /** For a cluster that uses `tls` (`--ca`, `--cert`, `--key`). */
  readonly tls: TlsMaterial | undefined;
}

/** The callee's decoded answer (2xx), or the library's own error for what went wrong. */
export async function sendCall(call: OutgoingCall): Promise<unknown> {
  const { service, route } = call;
  const path = buildPath(service, call.call, route, call.args);
  const body = buildBody(route, call.args);
  const begun = Date.now();
  const deadline = begun + call.timeout;
  const http = createHttpClient(call.tls);
  let lastError: unknown;
  try {
    for (const instance of call.instances) {
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(service, call.call, instance.url + path, call.timeout);
      const headers: Record<string, string> = { [DEADLINE_HEADER]: String(Math.max(1, Math.floor(left))) };
      if (route.sendsBody) headers['content-type'] = 'application/json';
      // Signed for this instance (its id is the audience requireSignature() checks); a peer
      // too old to publish its own id gets the empty audience, which only discovery accepts.
      if (call.signWith !== undefined) Object.assign(headers, signRequest(call.signWith, route.method, path, body, Date.now(), instance.id === instance.url ? '' : instance.id));
      let answer;
      try {
        answer = await http.request({ origin: instance.url, path, method: route.method, headers, body, timeout: left, signal: call.signal });
      } catch (error) {
        if (!(error instanceof TransportError)) throw error;
        if (error.kind === 'abort') throw new CliError('stopped before an answer came');
        if (error.kind === 'timeout') throw new TimeoutError(service, call.call, instance.url + path, call.timeout);
        lastError = error;
        if (error.kind === 'connect' || route.idempotent) continue;
        throw new ConnectionError(service, call.call, instance.url + path, error);
      }
      const value = decodeBody(answer.status, answer.contentType, answer.body);
      if (answer.status >= 200 && answer.status <= 299) return value;
      throw new RemoteError(service, call.call, instance.url + path, answer.status, value);
    }
  } finally {
    await http.close();
  }
  const reason = lastError instanceof Error ? `no instance could be reached (${lastError.message})` : 'no instance is UP';
  throw new ServiceUnavailableError(service, call.call, reason, call.known, lastError);
}
