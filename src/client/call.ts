import type { Cluster, Instance, ServiceEntry } from '../discovery/index.ts';
import { ConnectionError, RemoteError, ServiceUnavailableError, TimeoutError } from '../errors/index.ts';
import { TransportError, type HttpClient, type HttpResponse } from '../runtime/index.ts';
import { buildBody, buildPath, decodeBody } from './request.ts';
import type { CompiledRoute } from './route-index.ts';
import type { CallArguments, CallOptions } from './types.ts';

/** What a call needs from the rest of the plugin. */
export interface CallContext {
  readonly cluster: Cluster;
  readonly http: HttpClient;
  /** Signs a call when HMAC is on; undefined otherwise. */
  readonly sign: ((method: string, pathWithQuery: string, body: string | undefined, audience: string) => Record<string, string>) | undefined;
  readonly timeout: number;
  readonly retries: number;
}

const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json' });
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

function headersFor(context: CallContext, route: CompiledRoute, instance: Instance, path: string, body: string | undefined, options: CallOptions | undefined): Record<string, string> {
  const base = route.sendsBody ? JSON_HEADERS : NO_HEADERS;
  if (!context.sign && !options?.headers) return base as Record<string, string>;
  return { ...options?.headers, ...base, ...context.sign?.(route.method, path, body, instance.id) };
}

function pick(entry: ServiceEntry): Instance | undefined {
  const up = entry.up;
  if (up.length === 0) return undefined;
  return up[entry.cursor++ % up.length];
}

/**
 * Sends one call to an UP instance of `entry`, round-robin. A connection that could not be made
 * moves on to the next instance for any method (nothing was sent); one that broke mid-request
 * does so only for idempotent methods. Either way the instance is marked DOWN at once.
 */
export async function execute(
  context: CallContext,
  entry: ServiceEntry,
  call: string,
  route: CompiledRoute,
  args: CallArguments | undefined,
  options: CallOptions | undefined,
): Promise<unknown> {
  const path = buildPath(entry.name, call, route, args);
  const body = buildBody(route, args);
  const timeout = options?.timeout ?? context.timeout;
  // The timeout bounds the whole call: a retry gets what is left of it, not a fresh one.
  const deadline = Date.now() + timeout;
  const attempts = 1 + context.retries;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const instance = pick(entry);
    if (!instance) break;
    const left = attempt === 0 ? timeout : deadline - Date.now();
    if (left <= 0) throw new TimeoutError(entry.name, call, instance.url + path, timeout);
    let response: HttpResponse;
    try {
      response = await context.http.request({
        origin: instance.url,
        path,
        method: route.method,
        headers: headersFor(context, route, instance, path, body, options),
        body,
        timeout: left,
        signal: options?.signal,
      });
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      if (error.kind === 'abort') throw options?.signal?.reason ?? error;
      if (error.kind === 'timeout') throw new TimeoutError(entry.name, call, instance.url + path, timeout);
      context.cluster.suspect(instance);
      lastError = error;
      if (error.kind === 'connect' || route.idempotent) continue;
      throw new ConnectionError(entry.name, call, instance.url + path, error);
    }
    const value = decodeBody(response.status, response.contentType, response.body);
    if (response.status < 200 || response.status > 299) throw new RemoteError(entry.name, call, instance.url + path, response.status, value);
    return value;
  }
  const reason = lastError ? `no instance could be reached (${(lastError as Error).message})` : 'no instance is UP';
  throw new ServiceUnavailableError(entry.name, call, reason, context.cluster.table.serviceNames(), lastError);
}
