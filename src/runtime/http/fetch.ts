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
  if (/ECONNREFUSED|refused|unable to connect|client error \(Connect\)|tcp connect error/i.test(text)) {
    return new TransportError('connect', `cannot connect (${text})`, { cause: error });
  }
  return new TransportError('reset', `connection failed (${text})`, { cause: error });
}

/** Bun and Deno: the global fetch, which keeps connections alive by itself. */
export function createFetchClient(): HttpClient {
  return {
    async request(request): Promise<HttpResponse> {
      const timeout = AbortSignal.timeout(request.timeout);
      const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
      try {
        const response = await fetch(request.origin + request.path, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          signal,
          redirect: 'manual',
        });
        const body = await response.text();
        return { status: response.status, contentType: response.headers.get('content-type') ?? '', body };
      } catch (error) {
        throw classify(error, request, timeout);
      }
    },
    // The runtime owns fetch's connection pool; there is nothing of ours to close.
    async close() {},
  };
}
