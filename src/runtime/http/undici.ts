import type { Agent } from 'undici';
import { isHandshakeFailure, type TlsMaterial } from '../tls/index.ts';
import { TransportError, type HttpClient, type HttpRequest, type HttpResponse } from './types.ts';

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function errorCode(error: unknown): string {
  let current: unknown = error;
  // undici wraps the socket error in `cause` for some failures.
  for (let depth = 0; depth < 3 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return (error as { code?: string } | null)?.code ?? '';
}

function classify(error: unknown, request: HttpRequest, timedOut: boolean): TransportError {
  if (request.signal?.aborted) return new TransportError('abort', 'request aborted', { cause: error });
  const code = errorCode(error);
  if (timedOut || TIMEOUT_CODES.has(code)) return new TransportError('timeout', `no answer within ${request.timeout} ms`, { cause: error });
  if ((error as { name?: string } | null)?.name === 'AbortError') return new TransportError('abort', 'request aborted', { cause: error });
  if (CONNECT_CODES.has(code)) return new TransportError('connect', `cannot connect (${code})`, { cause: error });
  if (isHandshakeFailure(`${code} ${(error as Error)?.message ?? ''}`)) {
    return new TransportError('connect', `the TLS handshake failed (${[code, (error as Error)?.message].filter(Boolean).join(': ')})`, { cause: error, handshake: true });
  }
  return new TransportError('reset', `connection failed (${code || (error as Error)?.message || 'unknown'})`, { cause: error });
}

/**
 * Node: undici's Agent keeps one keep-alive pool per origin. undici is loaded on first use so that
 * Bun and Deno, which take the fetch client, never load it (Bun replaces it with a stub). With
 * `tls`, peers are verified against its CAs only, and its certificate is presented (mutual TLS).
 */
export function createUndiciClient(tls?: TlsMaterial): HttpClient {
  let agent: Agent | undefined;
  let loading: Promise<Agent> | undefined;
  let material = tls;
  const create = (Agent: typeof import('undici').Agent): Agent =>
    new Agent({
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      connections: 64,
      connect: material ? { timeout: 5_000, ca: [...material.ca], cert: material.cert, key: material.key } : { timeout: 5_000 },
    });
  let AgentClass: typeof import('undici').Agent | undefined;
  const load = (): Promise<Agent> =>
    (loading ??= import('undici').then(({ Agent }) => {
      AgentClass = Agent;
      agent = create(Agent);
      return agent;
    }));

  /**
   * One request through `dispatch` with a handler of our own, not `request()`: no AbortController,
   * abort listener or body stream per call, and the body is collected as Buffers and decoded once.
   * One deadline bounds the whole exchange, connect to last byte (undici's headersTimeout and
   * bodyTimeout are idle timers); it and the caller's signal abort through the dispatch controller.
   * The timer and the listener are released when the request settles, so nothing outlives it.
   */
  function send(client: Agent, request: HttpRequest): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      let abort: ((reason: Error) => void) | undefined;
      let timedOut = false;
      let settled = false;
      let status = 0;
      let contentType = '';
      const chunks: Buffer[] = [];
      const caller = request.signal;
      // Until undici hands over its abort function (when the request reaches a socket), the
      // promise is settled at once and the request is aborted as soon as it starts.
      const relay = (): void => (abort ? abort(caller?.reason as Error) : settle(caller?.reason));
      const timer = setTimeout(() => {
        timedOut = true;
        const error = new Error(`no answer within ${request.timeout} ms`);
        if (abort) abort(error);
        else settle(error);
      }, request.timeout);
      timer.unref?.();
      const settle = (error: unknown, response?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        caller?.removeEventListener('abort', relay);
        if (response) resolve(response);
        else reject(classify(error, request, timedOut));
      };
      if (caller?.aborted) return settle(caller.reason);
      caller?.addEventListener('abort', relay, { once: true });
      try {
        client.dispatch(
          {
            origin: request.origin,
            path: request.path,
            method: request.method as 'GET',
            headers: request.headers,
            body: request.body,
            headersTimeout: request.timeout,
            bodyTimeout: request.timeout,
          },
          {
            onRequestStart(controller) {
              abort = (reason) => controller.abort(reason);
              if (settled) controller.abort(new Error('request already settled'));
            },
            onResponseStart(_controller, statusCode, headers) {
              status = statusCode;
              const type = headers['content-type'];
              contentType = typeof type === 'string' ? type : '';
            },
            onResponseData(_controller, chunk) {
              chunks.push(chunk);
            },
            onResponseEnd() {
              const body = chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
              settle(undefined, { status, contentType, body });
            },
            onResponseError(_controller, error) {
              settle(error);
            },
          },
        );
      } catch (error) {
        settle(error);
      }
    });
  }

  return {
    request(request) {
      return agent ? send(agent, request) : load().then((client) => send(client, request));
    },
    updateTls(next) {
      material = next;
      const previous = agent;
      // Not loaded yet: the first request's Agent takes the new material.
      if (!previous || !AgentClass) return;
      // New requests take a new Agent; the old one finishes what it carries, then closes.
      agent = create(AgentClass);
      loading = Promise.resolve(agent);
      void previous.close().catch(() => previous.destroy());
    },
    async close() {
      const current = agent;
      agent = undefined;
      loading = undefined;
      if (current) await current.close().catch(() => current.destroy());
    },
  };
}
