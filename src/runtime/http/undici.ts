import type { Agent } from 'undici';
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
  return new TransportError('reset', `connection failed (${code || (error as Error)?.message || 'unknown'})`, { cause: error });
}

/**
 * Node: undici's Agent keeps one keep-alive pool per origin. undici is loaded on first use so that
 * Bun and Deno, which take the fetch client, never load it (Bun replaces it with a stub).
 */
export function createUndiciClient(): HttpClient {
  let agent: Agent | undefined;
  let loading: Promise<Agent> | undefined;
  const load = (): Promise<Agent> =>
    (loading ??= import('undici').then(({ Agent }) => {
      agent = new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000, connections: 64, connect: { timeout: 5_000 } });
      return agent;
    }));

  async function send(client: Agent, request: HttpRequest): Promise<HttpResponse> {
    // undici's headersTimeout and bodyTimeout are idle timers (a peer that trickles its answer
    // never trips them) and its connect timeout is the Agent's: one deadline bounds the whole
    // exchange, connect to last byte. It aborts through our own controller, which also relays
    // the caller's signal; both are released in `finally`, so nothing outlives the request.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, request.timeout);
    timer.unref?.();
    const caller = request.signal;
    const relay = (): void => controller.abort();
    if (caller?.aborted) controller.abort();
    else caller?.addEventListener('abort', relay, { once: true });
    let response;
    try {
      response = await client.request({
        origin: request.origin,
        path: request.path,
        method: request.method as 'GET',
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
        headersTimeout: request.timeout,
        bodyTimeout: request.timeout,
      });
      const body = await response.body.text();
      const contentType = response.headers['content-type'];
      return { status: response.statusCode, contentType: typeof contentType === 'string' ? contentType : '', body };
    } catch (error) {
      if (response) response.body.destroy();
      throw classify(error, request, timedOut);
    } finally {
      clearTimeout(timer);
      caller?.removeEventListener('abort', relay);
    }
  }

  return {
    request(request) {
      return agent ? send(agent, request) : load().then((client) => send(client, request));
    },
    async close() {
      const current = agent;
      agent = undefined;
      loading = undefined;
      if (current) await current.close().catch(() => current.destroy());
    },
  };
}
