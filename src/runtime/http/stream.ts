import type { TlsMaterial } from '../tls/index.ts';
import { classify } from './fetch.ts';
import { runtimeName } from './runtime-name.ts';
import { BufferedResponse, TransportError, type HttpRequest, type HttpResponse } from './types.ts';

/**
 * A request whose answer is a stream of lines (newline-delimited JSON, as etcd's watch sends).
 * `timeout` covers the wait for the status and headers only.
 */
export interface LineStreamRequest extends HttpRequest {
  /** Aborting it ends the stream (the promise then resolves with the status it had). */
  signal: AbortSignal;
  /** Called once per line of the body, without the newline, as each arrives. */
  onLine(line: string): void;
}

/**
 * An HTTP client for a few long-lived conversations with one service (etcd): ordinary requests,
 * and requests whose body is read line by line as it streams in. Fetch on every runtime (undici's
 * own fetch and Agent on Node, so that TLS material can be given), one pool per client.
 */
export interface StreamingHttpClient {
  /** One request, its body read to the end. Throws {@link TransportError} when no answer came. */
  request(request: HttpRequest): Promise<HttpResponse>;
  /**
   * Sends `request` and feeds its body to `onLine` as it arrives. Resolves with the status when
   * the body ends or the signal aborts it; throws {@link TransportError} when no answer came or
   * the connection broke.
   */
  stream(request: LineStreamRequest): Promise<number>;
  /** Closes the pool; streams still open are broken. */
  close(): Promise<void>;
}

type Fetch = (url: string, init: RequestInit & Record<string, unknown>) => Promise<Response>;

interface Transport {
  fetch: Fetch;
  extra: Record<string, unknown>;
  close(): Promise<void>;
}

interface DenoHttp {
  createHttpClient(options: { caCerts?: string[]; cert?: string; key?: string }): { close(): void };
}

async function openTransport(tls: TlsMaterial | undefined): Promise<Transport> {
  // No authorities given: the system's are trusted (etcd behind a public CA).
  const ca = tls && tls.ca.length > 0 ? [...tls.ca] : undefined;
  if (runtimeName === 'node') {
    const undici = await import('undici');
    const agent = new undici.Agent({
      keepAliveTimeout: 10_000,
      connect: { timeout: 5_000, ...(tls ? { ca, cert: tls.cert, key: tls.key } : {}) },
    });
    return {
      fetch: undici.fetch as unknown as Fetch,
      extra: { dispatcher: agent },
      close: () => agent.close().catch(() => agent.destroy()),
    };
  }
  if (!tls) return { fetch: globalThis.fetch as Fetch, extra: {}, async close() {} };
  if (runtimeName === 'bun') {
    // Bun's fetch takes TLS material per request.
    return { fetch: globalThis.fetch as Fetch, extra: { tls: { ca, cert: tls.cert, key: tls.key } }, async close() {} };
  }
  const deno = (globalThis as unknown as { Deno: DenoHttp }).Deno;
  const client = deno.createHttpClient({
    ...(ca === undefined ? {} : { caCerts: ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
  });
  return { fetch: globalThis.fetch as Fetch, extra: { client }, close: async () => client.close() };
}

/** Creates a {@link StreamingHttpClient}; `tls` (from `readTlsMaterial`) applies to its https: connections. */
export function createStreamingClient(tls?: TlsMaterial): StreamingHttpClient {
  let opening: Promise<Transport> | undefined;
  const transport = (): Promise<Transport> => (opening ??= openTransport(tls));

  return {
    async request(request) {
      const { fetch, extra } = await transport();
      const timeout = AbortSignal.timeout(request.timeout);
      const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
      try {
        const response = await fetch(request.origin + request.path, { method: request.method, headers: request.headers, body: request.body as RequestInit['body'], signal, redirect: 'manual', ...extra });
        const bytes = new Uint8Array(await response.arrayBuffer());
        return new BufferedResponse(response.status, response.headers.get('content-type') ?? '', bytes);
      } catch (error) {
        throw classify(error, request, timeout);
      }
    },

    async stream(request) {
      const { fetch, extra } = await transport();
      const connect = new AbortController();
      // The timeout covers the wait for the status line only: a watch may then stay quiet for hours.
      const timer = setTimeout(() => connect.abort(new Error('timeout')), request.timeout);
      const signal = AbortSignal.any([request.signal, connect.signal]);
      const failure = (error: unknown): TransportError =>
        connect.signal.aborted && !request.signal.aborted
          ? new TransportError('timeout', `no answer within ${request.timeout} ms`, { cause: error })
          : classify(error, request, AbortSignal.abort());
      let response: Response;
      try {
        response = await fetch(request.origin + request.path, { method: request.method, headers: request.headers, body: request.body as RequestInit['body'], signal, redirect: 'manual', ...extra });
      } catch (error) {
        if (request.signal.aborted) return 0;
        throw failure(error);
      } finally {
        clearTimeout(timer);
      }
      const body = response.body;
      if (!body) return response.status;
      const reader = body.getReader();
      const decoder = new TextDecoder();
      let pending = '';
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          pending += decoder.decode(value, { stream: true });
          let newline = pending.indexOf('\n');
          while (newline !== -1) {
            const line = pending.slice(0, newline).trim();
            pending = pending.slice(newline + 1);
            if (line !== '') request.onLine(line);
            if (request.signal.aborted) return response.status;
            newline = pending.indexOf('\n');
          }
        }
      } catch (error) {
        if (request.signal.aborted) return response.status;
        throw new TransportError('reset', `stream broke (${String((error as Error)?.message ?? error)})`, { cause: error });
      } finally {
        reader.releaseLock?.();
      }
      const rest = (pending + decoder.decode()).trim();
      if (rest !== '' && !request.signal.aborted) request.onLine(rest);
      return response.status;
    },

    async close() {
      const current = opening;
      opening = undefined;
      if (current) await (await current).close();
    },
  };
}
