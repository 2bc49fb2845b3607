import type { Cluster, Instance, ServiceEntry } from '../discovery/index.ts';
import { ConnectionError, RemoteError, ServiceUnavailableError, TimeoutError } from '../errors/index.ts';
import { TransportError, type HttpClient, type HttpResponse } from '../runtime/index.ts';
import type { InFlight } from './in-flight.ts';
import { LatencyEstimate } from './latency.ts';
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
  /** The per-attempt limit of idempotent calls: from observed latency, fixed ms, or none. */
  readonly attemptTimeout: number | 'auto' | false;
  /** Idempotent attempts in flight, re-issued elsewhere when their instance goes DOWN. */
  readonly inFlight: InFlight;
}

const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json' });
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

function headersFor(context: CallContext, route: CompiledRoute, instance: Instance, path: string, body: string | undefined, options: CallOptions | undefined): Record<string, string> {
  const base = route.sendsBody ? JSON_HEADERS : NO_HEADERS;
  if (!context.sign && !options?.headers) return base as Record<string, string>;
  return { ...options?.headers, ...base, ...context.sign?.(route.method, path, body, instance.id) };
}

/** The least an automatic per-attempt timeout allows, so a fast service's jitter is not a failure. */
const ATTEMPT_FLOOR_MS = 250;

const estimates = new WeakMap<ServiceEntry, LatencyEstimate>();

function estimateOf(entry: ServiceEntry): LatencyEstimate {
  let estimate = estimates.get(entry);
  if (!estimate) estimates.set(entry, (estimate = new LatencyEstimate()));
  return estimate;
}

/** The next UP instance, round-robin, other than `avoid` (the one that just failed) when another exists. */
function pick(entry: ServiceEntry, avoid: Instance | undefined): Instance | undefined {
  const up = entry.up;
  for (let tries = 0; tries < up.length; tries++) {
    const candidate = up[entry.cursor++ % up.length] as Instance;
    if (candidate !== avoid) return candidate;
  }
  return up[0];
}

function attemptLimit(context: CallContext, entry: ServiceEntry): number | undefined {
  const setting = context.attemptTimeout;
  if (setting === false) return undefined;
  return setting === 'auto' ? estimateOf(entry).attemptTimeout(ATTEMPT_FLOOR_MS) : setting;
}

/**
 * Sends one call to an UP instance of `entry`, round-robin (see docs/ARCHITECTURE.md, "A call").
 * A connection that could not be made moves on to another instance for any method (nothing was
 * sent); one that broke mid-request does so only for idempotent methods, and either way the
 * instance is marked DOWN at once. An idempotent call that has another instance to go to also
 * moves on when one attempt outlives the per-attempt timeout (from the service's observed
 * latency), or when its instance is marked DOWN while it waits: a silent (partitioned) instance
 * then costs a moment, not the call. One deadline bounds every attempt together.
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
  const caller = options?.signal;
  let lastError: unknown;
  let previous: Instance | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const instance = pick(entry, previous);
    if (!instance) break;
    previous = instance;
    const started = Date.now();
    const left = attempt === 0 ? timeout : deadline - started;
    if (left <= 0) throw new TimeoutError(entry.name, call, instance.url + path, timeout);
    // Only an idempotent attempt with somewhere else to go gets its own limit and can be re-issued.
    const spare = route.idempotent && attempt < attempts - 1 && entry.up.length > 1;
    const perAttempt = spare ? attemptLimit(context, entry) : undefined;
    const limited = perAttempt !== undefined && perAttempt < left;
    const tracked = spare ? context.inFlight.add(instance) : undefined;
    let response: HttpResponse;
    try {
      response = await context.http.request({
        origin: instance.url,
        path,
        method: route.method,
        headers: headersFor(context, route, instance, path, body, options),
        body,
        timeout: limited ? perAttempt : left,
        signal: tracked ? (caller ? AbortSignal.any([caller, tracked.signal]) : tracked.signal) : caller,
      });
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      if (error.kind === 'abort') {
        if (caller?.aborted || !tracked?.signal.aborted) throw caller?.reason ?? error;
        lastError = error; // re-issued: the instance went DOWN while the attempt waited
        continue;
      }
      if (error.kind === 'timeout') {
        if (!limited) throw new TimeoutError(entry.name, call, instance.url + path, timeout);
        lastError = error; // this attempt is slow; another instance may not be
        continue;
      }
      context.cluster.suspect(instance);
      lastError = error;
      if (error.kind === 'connect' || route.idempotent) continue;
      throw new ConnectionError(entry.name, call, instance.url + path, error);
    } finally {
      if (tracked) context.inFlight.delete(instance, tracked);
    }
    estimateOf(entry).observe(Date.now() - started);
    const value = decodeBody(response.status, response.contentType, response.body);
    if (response.status < 200 || response.status > 299) throw new RemoteError(entry.name, call, instance.url + path, response.status, value);
    return value;
  }
  const reason = lastError ? `no instance could be reached (${(lastError as Error).message})` : 'no instance is UP';
  throw new ServiceUnavailableError(entry.name, call, reason, context.cluster.table.serviceNames(), lastError);
}
