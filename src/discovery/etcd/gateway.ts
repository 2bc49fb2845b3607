import { TransportError, type StreamingHttpClient } from '../../runtime/index.ts';

/** etcd answered with an error (`{ error, message, code }`, gRPC codes), or not with JSON. */
export class EtcdAnswerError extends Error {
  override readonly name: string = 'EtcdAnswerError';
  /** The gRPC status code etcd gave (16 unauthenticated, 7 permission denied, 14 unavailable…); 0 if none. */
  readonly code: number;
  constructor(message: string, code: number) {
    super(message);
    this.code = code;
  }
}

/** etcd refused the user name or password: retrying will not help until someone fixes them. */
export class EtcdCredentialsError extends EtcdAnswerError {
  override readonly name: string = 'EtcdCredentialsError';
}

/** gRPC codes worth trying another member for: unavailable (no leader, stopping), deadline exceeded. */
const TRY_NEXT = new Set([4, 14]);
const UNAUTHENTICATED = 16;

/** Encodes a key or value for the JSON gateway (bytes fields are base64). */
export function encode(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Decodes a base64 bytes field from the JSON gateway; undefined when it is not base64. */
export function decode(base64: unknown): string | undefined {
  if (typeof base64 !== 'string') return undefined;
  try {
    const binary = atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** The end of the range of every key that starts with `prefix` (etcd's `--prefix`). */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

function parseAnswer(body: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new EtcdAnswerError(`etcd answered something that is not JSON: ${body.slice(0, 120)}`, 0);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new EtcdAnswerError('etcd answered something that is not a JSON object', 0);
  return parsed as Record<string, unknown>;
}

/** An `{ error, message, code }` answer as an error, or undefined. */
export function answerError(answer: Record<string, unknown>): EtcdAnswerError | undefined {
  const error = answer.error;
  if (error === undefined) return undefined;
  const detail = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : answer;
  const message = typeof detail.message === 'string' ? detail.message : typeof error === 'string' ? error : 'unknown error';
  const code = typeof detail.code === 'number' ? detail.code : typeof answer.code === 'number' ? answer.code : 0;
  return new EtcdAnswerError(message, code);
}

/**
 * etcd v3 through its JSON gateway (`/v3/...` on the client port), over our own HTTP client: no
 * gRPC, no dependency. Requests go to the current endpoint; one that cannot be reached (or has no
 * leader) makes the next one current. With credentials, a token is fetched from
 * `/v3/auth/authenticate` and fetched again when etcd says it is no longer valid.
 */
export class EtcdGateway {
  readonly #http: StreamingHttpClient;
  readonly #endpoints: readonly string[];
  readonly #credentials: { username: string; password: string } | undefined;
  #current = 0;
  #token: Promise<string> | undefined;
  /** Every request sent to etcd (the bench's requests per instance per minute). */
  requests = 0;

  constructor(http: StreamingHttpClient, endpoints: readonly string[], credentials: { username: string; password: string } | undefined) {
    this.#http = http;
    this.#endpoints = endpoints;
    this.#credentials = credentials;
  }

  /** The endpoint requests go to now. */
  get endpoint(): string {
    return this.#endpoints[this.#current] as string;
  }

  /** Makes the next endpoint current (after this one failed). */
  next(): void {
    this.#current = (this.#current + 1) % this.#endpoints.length;
    this.#token = undefined;
  }

  /**
   * POSTs `payload` to `path` and returns etcd's answer. Tries each endpoint once, from the
   * current one; throws the last {@link TransportError} when none answered, or the
   * {@link EtcdAnswerError} etcd gave.
   */
  async call(path: string, payload: unknown, timeout: number): Promise<Record<string, unknown>> {
    let lastError: unknown;
    for (let tried = 0; tried < this.#endpoints.length; tried++) {
      try {
        return await this.#callOnce(path, payload, timeout, true);
      } catch (error) {
        lastError = error;
        if (error instanceof TransportError || (error instanceof EtcdAnswerError && TRY_NEXT.has(error.code))) this.next();
        else throw error;
      }
    }
    throw lastError;
  }

  async #callOnce(path: string, payload: unknown, timeout: number, renew: boolean): Promise<Record<string, unknown>> {
    const origin = this.endpoint;
    const headers = await this.#headers(timeout);
    this.requests++;
    const response = await this.#http.request({ origin, path, method: 'POST', headers, body: JSON.stringify(payload), timeout });
    const answer = parseAnswer(response.body);
    const error = answerError(answer) ?? (response.status === 200 ? undefined : new EtcdAnswerError(`etcd answered ${response.status}`, 0));
    if (!error) return answer;
    if (error.code === UNAUTHENTICATED && this.#credentials && renew) {
      // Tokens expire (etcd's --auth-token-ttl, 5 minutes idle by default): fetch another once.
      this.#token = undefined;
      return this.#callOnce(path, payload, timeout, false);
    }
    throw error;
  }

  /** The headers of a request: JSON, and the auth token when etcd wants one. */
  async #headers(timeout: number): Promise<Record<string, string>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#credentials) headers.authorization = await (this.#token ??= this.#authenticate(timeout));
    return headers;
  }

  async #authenticate(timeout: number): Promise<string> {
    const credentials = this.#credentials as { username: string; password: string };
    try {
      this.requests++;
      const response = await this.#http.request({
        origin: this.endpoint,
        path: '/v3/auth/authenticate',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: credentials.username, password: credentials.password }),
        timeout,
      });
      const answer = parseAnswer(response.body);
      const error = answerError(answer);
      if (error) {
        // Never the password: the user name and what etcd said.
        if (/authentication failed|user name is empty|invalid user|password/i.test(error.message)) {
          throw new EtcdCredentialsError(`etcd refused user "${credentials.username}": ${error.message}`, error.code);
        }
        throw error;
      }
      if (typeof answer.token !== 'string') throw new EtcdAnswerError('etcd gave no token (is authentication enabled there?)', 0);
      return answer.token;
    } catch (error) {
      this.#token = undefined;
      throw error;
    }
  }

  /**
   * Opens a watch on the current endpoint and hands each JSON line etcd streams to `onResult`
   * (its `result`, or an error). Resolves when the stream ends or `signal` aborts; throws when
   * it could not be opened.
   */
  async watch(create: Record<string, unknown>, signal: AbortSignal, timeout: number, onResult: (result: Record<string, unknown>) => void): Promise<void> {
    const headers = await this.#headers(timeout);
    this.requests++;
    let failure: EtcdAnswerError | undefined;
    const status = await this.#http.stream({
      origin: this.endpoint,
      path: '/v3/watch',
      method: 'POST',
      headers,
      body: JSON.stringify({ create_request: create }),
      timeout,
      signal,
      onLine: (line) => {
        let answer: Record<string, unknown>;
        try {
          answer = parseAnswer(line);
        } catch (error) {
          failure = error as EtcdAnswerError;
          return;
        }
        const error = answerError(answer);
        if (error) failure ??= error;
        else if (typeof answer.result === 'object' && answer.result !== null) onResult(answer.result as Record<string, unknown>);
      },
    });
    if (failure) {
      if (failure.code === UNAUTHENTICATED) this.#token = undefined;
      throw failure;
    }
    if (status !== 200 && !signal.aborted) throw new EtcdAnswerError(`etcd answered the watch with ${status}`, 0);
  }
}
