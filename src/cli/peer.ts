/**
 * How every command talks to a running cluster: the secret found as the library finds it, each
 * request signed as the library signs its own discovery requests (Bearer, or HMAC with
 * `--hmac`), and every failure turned into one line the user can act on (docs/ARCHITECTURE.md,
 * "Command line").
 */
import { OptionError } from '../errors/index.ts';
import { isFile } from '../runtime/files/index.ts';
import { createHttpClient, defaultSecretPath, readEnv, TransportError, type HttpClient, type TlsMaterial } from '../runtime/index.ts';
import { bearerHeader } from '../security/bearer.ts';
import { signRequest } from '../security/hmac.ts';
import { resolveSecrets, SECRET_ENV } from '../security/secret.ts';
import { CliError } from './errors.ts';

/** How to authenticate to the peers: the cluster's secret, and whether it signs (enableHmac). */
export interface PeerAuth {
  /** The secret sent first. */
  readonly secret: string;
  /** Secrets being rotated out (`EXPRESS_DISCOVERY_KEY_PREVIOUS`): tried on a peer that refused `secret`. */
  readonly previous?: readonly string[];
  readonly hmac: boolean;
  /** For a cluster that uses `tls`: the CA to verify it against, and the certificate to present. */
  readonly tls?: TlsMaterial | undefined;
}

/** How long one peer may take to answer. */
export const PEER_TIMEOUT_MS = 5000;

/** Where a service listens when no `--peer` is given: the README's first example. */
export const DEFAULT_PEER = 'http://127.0.0.1:3000';

/** A peer that could not be reached at all (as opposed to one that answered and refused). */
export class PeerUnreachableError extends CliError {
  override readonly name: string = 'PeerUnreachableError';
  /** The origin that did not answer. */
  readonly origin: string;
  constructor(origin: string, reason: string, hint = 'is a service listening there?') {
    super(`cannot reach ${origin}: ${reason}; ${hint}`);
    this.origin = origin;
  }
}

/**
 * What most likely went wrong. Over TLS a server that wants a client certificate (or refuses
 * ours) closes the connection after the handshake, which looks like a reset; a handshake failure
 * says itself what did not verify.
 */
function unreachableHint(origin: string, error: unknown, tls: boolean): string {
  if (!origin.startsWith('https:') || !(error instanceof TransportError)) return 'is a service listening there?';
  if (error.handshake) return tls ? "is --ca the CA that issued the cluster's certificates?" : "give --ca (the CA that issued the cluster's certificates), and --cert and --key if it asks for one";
  if (error.kind === 'reset') return 'over TLS this is how a service refuses a client certificate: give --cert and --key issued by a CA it trusts';
  return 'is a service listening there?';
}

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

/**
 * The cluster's secret, found exactly as the library finds it: `EXPRESS_DISCOVERY_KEY` (and
 * `EXPRESS_DISCOVERY_KEY_PREVIOUS`, kept apart in `previous`), else the secret file
 * (`--secret-file`, default the shared one in the temp folder). Unlike the library it never
 * creates the file: a command with no secret says so instead of collecting a 401.
 */
export function findSecrets(secretFile: string | undefined): { secret: string; previous: string[] } {
  const file = secretFile ?? defaultSecretPath();
  if ((readEnv(SECRET_ENV) ?? '') === '' && !isFile(file)) {
    throw new CliError(`no secret: EXPRESS_DISCOVERY_KEY is not set and there is no secret file at ${file} (services create it on their machine; for a cluster elsewhere, set EXPRESS_DISCOVERY_KEY)`);
  }
  try {
    const [secret, ...previous] = resolveSecrets(undefined, file);
    return { secret: secret as string, previous };
  } catch (error) {
    // OptionError talks about an option of expressMicro(); here the secret is all there is to say.
    let message = error instanceof Error ? error.message : String(error);
    if (error instanceof OptionError) {
      message = message.replace(/^express-micro: option `secret` /, '');
      if (message.startsWith('(')) message = `the secret ${message}`;
    }
    throw new CliError(message);
  }
}

/** The secret a command sends (see {@link findSecrets}). */
export function findSecret(secretFile: string | undefined): string {
  return findSecrets(secretFile).secret;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function refusal(origin: string, path: string, status: number, body: string, auth: PeerAuth): CliError {
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
  return new CliError(`${origin}${path} answered ${status}`);
}

/** Authenticated GETs of `/_discovery/*` on any peer, over one connection pool. */
export class PeerClient {
  readonly #auth: PeerAuth;
  readonly #http: HttpClient;
  /** During a rotation, the secret each peer last accepted, when it was not the first. */
  readonly #accepted = new Map<string, string>();

  constructor(auth: PeerAuth) {
    this.#auth = auth;
    this.#http = createHttpClient(auth.tls);
  }

  /** The headers one request needs: a fresh signature each time with HMAC, else the Bearer secret. */
  headers(method: string, path: string, body?: string, secret: string = this.#auth.secret): Record<string, string> {
    const base = { accept: 'application/json' };
    return this.#auth.hmac ? { ...base, ...signRequest(secret, method, path, body) } : { ...base, authorization: bearerHeader(secret) };
  }

  /**
   * `GET origin+path`, parsed as JSON. Fails with {@link PeerUnreachableError} when nothing
   * answered, and with a {@link CliError} saying why when the peer refused or did not answer JSON.
   */
  async getJson(origin: string, path: string, timeout: number = PEER_TIMEOUT_MS): Promise<unknown> {
    const text = await this.getText(origin, path, 'application/json', timeout);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new CliError(`${origin}${path} did not answer with JSON: is it an express-micro service?`);
    }
  }

  /** `GET origin+path` with the given `accept`; the body as text, failures as {@link getJson}. */
  async getText(origin: string, path: string, accept: string, timeout: number = PEER_TIMEOUT_MS): Promise<string> {
    // Mid-rotation a peer may not take the new secret yet: the previous ones are tried after a 401.
    const first = this.#accepted.get(origin) ?? this.#auth.secret;
    const secrets = [first, ...[this.#auth.secret, ...(this.#auth.previous ?? [])].filter((secret) => secret !== first)];
    let answer;
    for (const secret of secrets) {
      try {
        answer = await this.#http.request({ origin, path, method: 'GET', headers: { ...this.headers('GET', path, undefined, secret), accept }, timeout });
      } catch (error) {
        throw new PeerUnreachableError(origin, error instanceof TransportError ? error.message : String(error), unreachableHint(origin, error, this.#auth.tls !== undefined));
      }
      if (answer.status === 200) {
        if (secret === this.#auth.secret) this.#accepted.delete(origin);
        else this.#accepted.set(origin, secret);
        return answer.body;
      }
      if (answer.status !== 401) break;
    }
    throw refusal(origin, path, answer?.status ?? 0, answer?.body ?? '', this.#auth);
  }

  /** Closes the pool's connections. */
  close(): Promise<void> {
    return this.#http.close();
  }
}
