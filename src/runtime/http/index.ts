import { createFetchClient } from './fetch.ts';
import type { HttpClient } from './types.ts';
import { runtimeName } from './runtime-name.ts';
import { createUndiciClient } from './undici.ts';

export { TransportError } from './types.ts';
export type { HttpClient, HttpRequest, HttpResponse, TransportFailure } from './types.ts';

export { runtimeName } from './runtime-name.ts';
export { createStreamingClient, type ClientTls, type LineStreamRequest, type StreamingHttpClient } from './stream.ts';

/** undici's pooled Agent on Node; the global fetch on Bun (which stubs undici) and Deno. */
export function createHttpClient(): HttpClient {
  return runtimeName === 'node' ? createUndiciClient() : createFetchClient();
}
