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
import { createVerifier, signRequest } from '../../../security/hmac.ts';
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
  /**
   * The secrets, to sign the call when the cluster signs (`--hmac`): the first is used, the
   * others (`EXPRESS_DISCOVERY_KEY_PREVIOUS`, during a rotation) after a refusal for a wrong
   * signature; undefined to send the call plain.
   */
  readonly signWith: readonly string[] | undefined;
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
  const secrets = call.signWith;
  // The library's own check of an instance's signed claim (any of the secrets, within the window).
  const verifier = secrets === undefined || secrets.length === 0 ? undefined : createVerifier(secrets);
  let lastError: unknown;
  try {
    for (const instance of call.instances) {
      // Signed for this instance (its id is the audience requireSignature() checks); a peer
      // too old to publish its own id gets the empty audience, which only discovery accepts.
      let audience = instance.id === instance.url ? '' : instance.id;
      let secret = 0;
      let claimFollowed = false;
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) throw new TimeoutError(service, call.call, instance.url + path, call.timeout);
        const headers: Record<string, string> = { [DEADLINE_HEADER]: String(Math.max(1, Math.floor(left))) };
        if (route.sendsBody) headers['content-type'] = 'application/json';
        if (secrets !== undefined) Object.assign(headers, signRequest(secrets[secret] as string, route.method, path, body, Date.now(), audience));
        let answer;
        try {
          answer = await http.request({ origin: instance.url, path, method: route.method, headers, body, timeout: left, signal: call.signal });
        } catch (error) {
          if (!(error instanceof TransportError)) throw error;
          if (error.kind === 'abort') throw new CliError('stopped before an answer came');
          if (error.kind === 'timeout') throw new TimeoutError(service, call.call, instance.url + path, call.timeout);
          lastError = error;
          if (error.kind === 'connect' || route.idempotent) break;
          throw new ConnectionError(service, call.call, instance.url + path, error);
        }
        const value = decodeBody(answer.status, answer.contentType, answer.body);
        if (answer.status >= 200 && answer.status <= 299) return value;
        // requireSignature()'s refusals ran no handler, so sending again is safe for any method.
        if (answer.status === 401 && verifier !== undefined && secrets !== undefined) {
          const refusal = (value ?? {}) as { instance?: unknown; reason?: unknown };
          // A process restarted in place vouches for its new id (docs/ARCHITECTURE.md, "Signed
          // calls"): sign for it, once, as a member's call does.
          const claimed = claimFollowed ? undefined : verifier.claimed(refusal.instance, audience);
          if (claimed !== undefined) {
            audience = claimed;
            claimFollowed = true;
            continue;
          }
          // Mid-rotation the instance may not take the first secret yet: the previous ones in turn.
          if ((refusal.reason === 'wrong signature' || refusal.reason === 'signed for another instance') && secret + 1 < secrets.length) {
            secret++;
            continue;
          }
        }
        throw new RemoteError(service, call.call, instance.url + path, answer.status, value);
      }
    }
  } finally {
    await http.close();
  }
  const reason = lastError instanceof Error ? `no instance could be reached (${lastError.message})` : 'no instance is UP';
  throw new ServiceUnavailableError(service, call.call, reason, call.known, lastError);
}
