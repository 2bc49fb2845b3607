/**
 * Reads the services of a running cluster: `GET /_discovery/services` on each peer given, signed
 * as the library signs its own discovery requests (Bearer, or HMAC with `--hmac`), and what each
 * peer knows of itself and of the others.
 */
import type { RouteDescriptor } from '../../../routes/index.ts';
import { createHttpClient, TransportError } from '../../../runtime/index.ts';
import { bearerHeader } from '../../../security/bearer.ts';
import { signRequest } from '../../../security/hmac.ts';
import { CliError } from '../../errors.ts';
import type { ServiceModel } from './model.ts';

/** How to authenticate to the peers: the cluster's secret, and whether it signs (enableHmac). */
export interface PeerAuth {
  readonly secret: string;
  readonly hmac: boolean;
}

const PATH = '/_discovery/services';
/** How long one peer may take to answer. */
export const PEER_TIMEOUT_MS = 5000;

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const CALL_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,99}$/;

/** `http://host:port` from what the user typed (a trailing slash or path is dropped). */
export function peerOrigin(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`--peer ${JSON.stringify(value)} is not a URL (like http://127.0.0.1:3000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--peer ${value}: only http: and https: URLs are supported`);
  return url.origin;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The routes of one service in the answer; entries that are not routes are skipped. */
function routesOf(value: unknown): RouteDescriptor[] {
  if (!Array.isArray(value)) return [];
  const routes: RouteDescriptor[] = [];
  for (const item of value) {
    if (!isRecord(item)) continue;
    const { method, path, names } = item;
    if (typeof method !== 'string' || typeof path !== 'string' || !path.startsWith('/') || !Array.isArray(names)) continue;
    routes.push({ method: method.toUpperCase(), path, names: names.filter((name): name is string => typeof name === 'string' && CALL_NAME.test(name)) });
  }
  return routes;
}

/** The services one `/_discovery/services` answer lists: the peer itself and those it knows. */
export function parseServicesView(origin: string, value: unknown): ServiceModel[] {
  if (!isRecord(value) || !isRecord(value.thisService) || !isRecord(value.connectedPeers)) {
    throw new CliError(`${origin}${PATH} did not answer with an express-micro services list`);
  }
  const services: ServiceModel[] = [];
  const self = value.thisService;
  if (typeof self.name === 'string' && SERVICE_NAME.test(self.name)) services.push({ name: self.name, routes: routesOf(self.routes) });
  for (const [name, peer] of Object.entries(value.connectedPeers)) {
    if (SERVICE_NAME.test(name) && isRecord(peer)) services.push({ name, routes: routesOf(peer.routes) });
  }
  return services;
}

function headers(auth: PeerAuth): Record<string, string> {
  const base = { accept: 'application/json' };
  return auth.hmac ? { ...base, ...signRequest(auth.secret, 'GET', PATH, undefined) } : { ...base, authorization: bearerHeader(auth.secret) };
}

function refusal(origin: string, status: number, body: string, auth: PeerAuth): CliError {
  let reason = '';
  try {
    const parsed = JSON.parse(body) as unknown;
    if (isRecord(parsed) && typeof parsed.reason === 'string') reason = parsed.reason;
  } catch {
    // not JSON: no reason to quote
  }
  if (status === 401) {
    // The reason says which side signs: a signing cluster misses the signature headers of a
    // Bearer request, and a Bearer cluster sees no Authorization header on a signed one.
    const hint = !auth.hmac && /signature|timestamp|nonce/.test(reason)
      ? '; the cluster signs its requests (enableHmac): add --hmac'
      : auth.hmac && /authorization|bearer/i.test(reason)
        ? '; the cluster does not sign its requests: drop --hmac'
        : '; set EXPRESS_DISCOVERY_KEY (or --secret-file) to the secret the services use';
    return new CliError(`${origin} refused the secret (401${reason === '' ? '' : `: ${reason}`})${hint}`);
  }
  if (status === 403) return new CliError(`${origin} refused this address (403: not on its ipWhitelist)`);
  return new CliError(`${origin}${PATH} answered ${status}`);
}

/**
 * Every service the peers know, one list per peer, in the order the peers were given. Fails on
 * the first peer that cannot be reached or refuses: a partial list would make a partial file.
 */
export async function readCluster(origins: readonly string[], auth: PeerAuth): Promise<ServiceModel[][]> {
  const http = createHttpClient();
  try {
    return await Promise.all(
      origins.map(async (origin) => {
        let answer;
        try {
          answer = await http.request({ origin, path: PATH, method: 'GET', headers: headers(auth), timeout: PEER_TIMEOUT_MS });
        } catch (error) {
          const reason = error instanceof TransportError ? error.message : String(error);
          throw new CliError(`cannot reach ${origin}: ${reason}; is a service listening there?`);
        }
        if (answer.status !== 200) throw refusal(origin, answer.status, answer.body, auth);
        let parsed: unknown;
        try {
          parsed = JSON.parse(answer.body);
        } catch {
          throw new CliError(`${origin}${PATH} did not answer with JSON: is it an express-micro service?`);
        }
        return parseServicesView(origin, parsed);
      }),
    );
  } finally {
    await http.close();
  }
}
