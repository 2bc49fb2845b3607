import { isHandshakeFailure, type TlsMaterial } from '../tls/index.ts';
import { TransportError, type HttpClient, type HttpRequest, type HttpResponse } from './types.ts';

/** Turns what fetch threw into a {@link TransportError} of the right kind. */
export function classify(error: unknown, request: HttpRequest, timeout: AbortSignal): TransportError {
  if (request.signal?.aborted) return new TransportError('abort', 'request aborted', { cause: error });
  if (timeout.aborted) return new TransportError('timeout', `no answer within ${request.timeout} ms`, { cause: error });
  // Bun puts the code on the error's cause (`ECONNREFUSED: Unable to connect…`); Deno throws
  // TypeError('fetch failed') whose cause's message names the failed step (`client error
  // (Connect): tcp connect error: Connection refused`). Read codes and messages down the chain.
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 3 && current !== null && typeof current === 'object'; depth++) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string' && !(typeof message === 'string' && message.includes(code))) parts.push(code);
    if (typeof message === 'string' && message !== '') parts.push(message);
    current = cause;
  }
  const text = parts.join(': ') || String(error);
  if (isHandshakeFailure(text)) return new TransportError('connect', `the TLS handshake failed (${text})`, { cause: error, handshake: true });
  if (/ECONNREFUSED|refused|unable to connect|client error \(Connect\)|tcp connect error/i.test(text)) {
    return new TransportError('connect', `cannot connect (${text})`, { cause: error });
  }
  return new TransportError('reset', `connection failed (${text})`, { cause: error });
}

/** Deno's own HTTP client, which fetch takes as `client` (its way to set CAs and a client certificate). */
interface DenoHttpClient {
  close(): void;
}

interface DenoNamespace {
  createHttpClient(options: { caCerts: string[]; cert?: string; key?: string }): DenoHttpClient;
}

/** One TLS setting of fetch's, and the requests in flight on it (Deno's client closes when they end). */
interface TlsSetting {
  /** What goes into fetch's init: Bun's `tls`, or Deno's `client`. */
  readonly init: Record<string, unknown>;
  readonly client: DenoHttpClient | undefined;
  inFlight: number;
  retired: boolean;
}

function tlsSetting(tls: TlsMaterial): TlsSetting {
  const deno = (globalThis as { Deno?: DenoNamespace }).Deno;
  if (deno) {
    const client = deno.createHttpClient({ caCerts: [...tls.ca], ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}) });
    return { init: { client }, client, inFlight: 0, retired: false };
  }
  return { init: { tls: { ca: [...tls.ca], cert: tls.cert, key: tls.key } }, client: undefined, inFlight: 0, retired: false };
}

function release(setting: TlsSetting): void {
  if (setting.retired && setting.inFlight === 0) setting.client?.close();
}

/**
 * Bun and Deno: the global fetch, which keeps connections alive by itself. With `tls`, peers are
 * verified against its CAs and its certificate is presented: Bun takes them as fetch's `tls`,
 * Deno through a client of its own (`Deno.createHttpClient`).
 */
export function createFetchClient(tls?: TlsMaterial): HttpClient {
  let setting = tls ? tlsSetting(tls) : undefined;
  return {
    async request(request): Promise<HttpResponse> {
      const timeout = AbortSignal.timeout(request.timeout);
      const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
      const current = setting;
      if (current) current.inFlight++;
      try {
        const response = await fetch(request.origin + request.path, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          signal,
          redirect: 'manual',
          ...current?.init,
        });
        const body = await response.text();
        return { status: response.status, contentType: response.headers.get('content-type') ?? '', body };
      } catch (error) {
        throw classify(error, request, timeout);
      } finally {
        if (current) {
          current.inFlight--;
          release(current);
        }
      }
    },
    updateTls(next) {
      const previous = setting;
      setting = tlsSetting(next);
      if (previous) {
        previous.retired = true;
        release(previous);
      }
    },
    // The runtime owns fetch's connection pool; only Deno's TLS client is ours to close.
    async close() {
      if (setting) {
        setting.retired = true;
        release(setting);
      }
    },
  };
}
