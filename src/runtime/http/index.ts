import { createFetchClient } from './fetch.ts';
import type { HttpClient } from './types.ts';
import { createUndiciClient } from './undici.ts';

export { TransportError } from './types.ts';
export type { HttpClient, HttpRequest, HttpResponse, TransportFailure } from './types.ts';

/** The name of the runtime this process runs on. */
export const runtimeName: 'bun' | 'deno' | 'node' =
  'Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node';

/** undici's pooled Agent on Node; the global fetch on Bun (which stubs undici) and Deno. */
export function createHttpClient(): HttpClient {
  return runtimeName === 'node' ? createUndiciClient() : createFetchClient();
}
