import { createFetchClient } from './fetch.ts';
import type { TlsMaterial } from '../tls/index.ts';
import { TransportError, type HttpClient } from './types.ts';
import { runtimeName } from './runtime-name.ts';
import { createUndiciClient } from './undici.ts';

export { TransportError };
export { ERROR_BODY_LIMIT } from './types.ts';
export type { HttpClient, HttpRequest, HttpResponse, RequestBody, TransportFailure } from './types.ts';

export { runtimeName } from './runtime-name.ts';
export { createStreamingClient, type LineStreamRequest, type StreamingHttpClient } from './stream.ts';

/**
 * undici's pooled Agent on Node; the global fetch on Bun (which stubs undici) and Deno. With
 * `tls`, a request to a plain `http://` origin is refused before anything is sent: an instance
 * that uses TLS never downgrades (docs/ARCHITECTURE.md, "TLS").
 */
export function createHttpClient(tls?: TlsMaterial): HttpClient {
  const client = runtimeName === 'node' ? createUndiciClient(tls) : createFetchClient(tls);
  if (!tls) return client;
  return {
    request(request) {
      if (!request.origin.startsWith('https:')) {
        return Promise.reject(new TransportError('connect', `refused to send to ${request.origin} over plain http: this instance uses TLS`));
      }
      return client.request(request);
    },
    updateTls: (next) => client.updateTls(next),
    close: () => client.close(),
  };
}
