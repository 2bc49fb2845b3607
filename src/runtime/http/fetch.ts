import { TransportError, type HttpClient, type HttpRequest, type HttpResponse } from './types.ts';

function classify(error: unknown, request: HttpRequest, timeout: AbortSignal): TransportError {
  if (request.signal?.aborted) return new TransportError('abort', 'request aborted', { cause: error });
  if (timeout.aborted) return new TransportError('timeout', `no answer within ${request.timeout} ms`, { cause: error });
  const text = String((error as { cause?: { code?: string } } | null)?.cause?.code ?? (error as Error)?.message ?? '');
  // Bun and Deno word refused connections differently; both name the refusal.
  if (/refused|ECONNREFUSED|unable to connect|connection error|Connection refused/i.test(text)) {
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
