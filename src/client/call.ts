import type { Instance, MembershipSource, ServiceEntry } from '../discovery/index.ts';
import { ConnectionError, RemoteError, ResponseTooLargeError, ServiceUnavailableError, TimeoutError } from '../errors/index.ts';
import { Locality, RetryReason, type CallSeries } from '../metrics/index.ts';
import { after, delay, injectActiveSpan, monotonicNow, openTelemetry, TransportError, type HttpClient, type HttpResponse, type RequestBody } from '../runtime/index.ts';
import { MISROUTED_STATUS, MISROUTED_TYPE, ROUTE_HEADER } from '../routes/route-header.ts';
import { atLeast, loadOf, observe, pickRoundRobin, pickTwoChoices, type BalancerName } from './balancer.ts';
import { DEADLINE_HEADER, type ServedRequest, type ServedRequests } from './request-context.ts';
import type { InFlight } from './in-flight.ts';
import { LatencyEstimate } from './latency.ts';
import type { OutlierDetector } from './outlier.ts';
import { RetryBudget, type RetryBudgetSettings } from './retry-budget.ts';
import { Tries, Verdict } from './tries.ts';
import { outcomeOf } from './outcome.ts';
import { rawBody, signedBytes, withoutContentType, type OnceBody, type RawBody } from './body.ts';
import type { Pool } from './pools.ts';
import { buildBody, buildPath, decodeAnswer, normalizeArguments } from './request.ts';
import { chooseRoute, type CompiledRoute } from './route-index.ts';
import { writeTrace } from './trace.ts';
import { upAgain } from './up-again.ts';
import type { CallArguments, CallOptions } from './types.ts';

/** What a call needs from the rest of the plugin. */
export interface CallContext {
  readonly cluster: MembershipSource;
  readonly http: HttpClient;
  /** Signs a call when HMAC is on; undefined otherwise. */
  readonly sign: ((method: string, pathWithQuery: string, body: string | Uint8Array | undefined, audience: string) => Record<string, string>) | undefined;
  /** The id an instance's signed claim names (a 401 from a process restarted in place); HMAC only. */
  readonly claimed: ((claim: unknown, audience: string) => string | undefined) | undefined;
  readonly timeout: number;
  readonly retries: number;
  /** The most bytes of a 2xx answer read whole (`maxResponseBytes`). */
  readonly maxResponseBytes: number;
  /** The per-attempt limit of idempotent calls: from observed latency, fixed ms, or none. */
  readonly attemptTimeout: number | 'auto' | false;
  /** Idempotent attempts in flight, re-issued elsewhere when their instance goes DOWN. */
  readonly inFlight: InFlight;
  /** How an instance is chosen. */
  readonly balancer: BalancerName;
  /** Ejects instances whose calls keep failing; undefined when turned off. */
  readonly outliers: OutlierDetector | undefined;
  /** Answer statuses an idempotent call retries on another instance. */
  readonly retryOn: ReadonlySet<number>;
  /** The cap on retries per service; false when lifted. */
  readonly retryBudget: RetryBudgetSettings | false;
  /** The deadline and trace of the request being served, which calls made for it inherit. */
  readonly served: ServedRequests;
  /** Whether idempotent calls hedge by default (the `hedge` option; a call's own option wins). */
  readonly hedge: boolean;
  /** An instance answered that it does not serve a route its table row lists: fetch its routes again. */
  readonly stale: (instance: Instance) => void;
  /** This caller's zone: first attempts prefer instances of it (zones.ts); undefined for none. */
  readonly zone: string | undefined;
}

function headersFor(
  context: CallContext,
  route: CompiledRoute,
  named: string | undefined,
  instance: Instance,
  path: string,
  signed: string | Uint8Array | undefined,
  contentType: string | undefined,
  options: CallOptions | undefined,
  left: number,
  served: ServedRequest | undefined,
): Record<string, string> {
  // The callee learns how long it has (and passes it on to the calls it makes in turn).
  const remaining = String(Math.max(1, Math.floor(left)));
  const trace = served?.trace;
  // OpenTelemetry, when an SDK registered it; without one this is a single property read.
  const telemetry = openTelemetry();
  if (!context.sign && !options?.headers && trace === undefined && telemetry === undefined) {
    if (named === undefined) return contentType !== undefined ? { 'content-type': contentType, [DEADLINE_HEADER]: remaining } : { [DEADLINE_HEADER]: remaining };
    return contentType !== undefined
      ? { 'content-type': contentType, [DEADLINE_HEADER]: remaining, [ROUTE_HEADER]: named }
      : { [DEADLINE_HEADER]: remaining, [ROUTE_HEADER]: named };
  }
  const headers: Record<string, string> = { ...options?.headers, ...context.sign?.(route.method, path, signed, instance.audience) };
  if (contentType !== undefined) headers['content-type'] = contentType;
  headers[DEADLINE_HEADER] = remaining;
  if (named !== undefined) headers[ROUTE_HEADER] = named;
  // The trace (docs/ARCHITECTURE.md, "A call"): an active OpenTelemetry span's, else the request's.
  if ((telemetry === undefined || !injectActiveSpan(telemetry, headers)) && trace !== undefined) writeTrace(trace, headers);
  return headers;
}

/** The least an automatic per-attempt timeout allows, so a fast service's jitter is not a failure. */
const ATTEMPT_FLOOR_MS = 250;

const estimates = new WeakMap<ServiceEntry, LatencyEstimate>();

function estimateOf(entry: ServiceEntry): LatencyEstimate {
  let estimate = estimates.get(entry);
  if (!estimate) estimates.set(entry, (estimate = new LatencyEstimate()));
  return estimate;
}

const budgets = new WeakMap<ServiceEntry, RetryBudget>();

function budgetOf(context: CallContext, entry: ServiceEntry): RetryBudget | undefined {
  if (context.retryBudget === false) return undefined;
  let budget = budgets.get(entry);
  if (!budget) budgets.set(entry, (budget = new RetryBudget(context.retryBudget)));
  return budget;
}

function pick(context: CallContext, entry: ServiceEntry, pool: Pool, estimate: LatencyEstimate, avoid: Instance | undefined, now: number): Instance | undefined {
  const chosen = context.balancer === 'p2c' ? pickTwoChoices(entry, pool, avoid, estimate, now) : pickRoundRobin(pool, avoid);
  if (avoid === undefined || chosen !== avoid) return chosen;
  // The rotation holds only the instance that just failed (the others are suspected, say, by a
  // probe that a busy machine answered late): any other UP instance that serves the call is worth the retry.
  return pool.instances.find((instance) => instance.status === 'UP' && instance !== avoid) ?? chosen;
}

/**
 * The instance for a retry: the balancer's choice unless this call already tried it, else one it
 * has not tried, from the rotation first, then any UP instance. Under churn a service can list
 * several instances that died a moment ago; with only the last failure avoided, the retries could
 * go round those and miss the one that is alive (the churn soak found it). When every instance
 * has been tried, the one whose failure was the most likely to pass (`Tries.best`): a restarted
 * instance that was slow to answer its first request, not the one that refused the connection.
 */
function pickUntried(context: CallContext, entry: ServiceEntry, pool: Pool, estimate: LatencyEstimate, tries: Tries, now: number): Instance | undefined {
  const chosen = pick(context, entry, pool, estimate, tries.last, now);
  if (chosen === undefined || !tries.has(chosen)) return chosen;
  return (
    pool.up.find((instance) => !tries.has(instance)) ??
    pool.instances.find((instance) => instance.status === 'UP' && !tries.has(instance)) ??
    tries.best()
  );
}

/** Why the slower of two hedged requests was cancelled. */
const HEDGE_LOST: Error = new Error('express-micro: another instance answered this hedged call first');

type Answer = { response: HttpResponse; answered: Instance };

/**
 * One request to `target`, given `timeout` ms, counted in its outstanding requests while it runs
 * (the balancer's load); `remaining` is what is left of the whole call. Its round trip, and the
 * requests outstanding when it went out, feed the balancer's estimate of `target`. A hedged
 * request cancelled because the other answered first tells the balancer only that the instance
 * is at least that slow.
 */
async function sendTo(
  context: CallContext,
  entry: ServiceEntry,
  estimate: LatencyEstimate,
  route: CompiledRoute,
  named: string | undefined,
  target: Instance,
  path: string,
  body: RequestBody | undefined,
  signed: string | Uint8Array | undefined,
  contentType: string | undefined,
  options: CallOptions | undefined,
  timeout: number,
  remaining: number,
  signal: AbortSignal | undefined,
  served: ServedRequest | undefined,
  zones: Float64Array,
): Promise<HttpResponse> {
  const load = loadOf(target);
  const depth = ++load.outstanding;
  if (context.zone !== undefined) (zones[target.zone === context.zone ? Locality.same : Locality.cross] as number)++;
  const sent = Date.now();
  try {
    // The callee is told what is left of the whole call, as gRPC does: this attempt's own limit is
    // the caller's guess about when to try elsewhere, not a bound on the callee's work.
    const headers = headersFor(context, route, named, target, path, signed, contentType, options, remaining, served);
    const stream = options?.responseType === 'stream';
    const response = await context.http.request({ origin: target.url, path, method: route.method, headers, body, timeout, signal, stream, maxBytes: stream ? undefined : context.maxResponseBytes });
    const now = Date.now();
    observe(load, entry, estimate, now - sent, depth, now);
    load.answeredAt = now;
    return response;
  } catch (error) {
    if (signal?.reason === HEDGE_LOST) atLeast(load, entry, estimate, Date.now() - sent, depth);
    throw error;
  } finally {
    load.outstanding--;
  }
}

/**
 * Sends `send(instance)`; if it has not answered after `wait` ms, also sends `send(other)` and
 * takes whichever answers first, cancelling the other (Dean and Barroso's hedged requests). A
 * failure of the first before the hedge goes out is thrown as it is; once both are out, the
 * call fails only if both do (with the first's error).
 */
async function hedged(send: (target: Instance, cancel: AbortSignal) => Promise<Answer>, instance: Instance, wait: number, other: () => Instance | undefined): Promise<Answer> {
  const firstCancel = new AbortController();
  const first = send(instance, firstCancel.signal);
  let timer: { stop(): void } | undefined;
  const fired = new Promise<'hedge'>((resolve) => (timer = after(wait, () => resolve('hedge'))));
  const early = await Promise.race([first, fired]).catch((error: unknown) => {
    timer?.stop();
    throw error;
  });
  if (early !== 'hedge') {
    timer?.stop();
    return early;
  }
  const target = other();
  if (!target || target === instance) return first;
  const secondCancel = new AbortController();
  const second = send(target, secondCancel.signal);
  try {
    const winner = await Promise.any([first, second]);
    (winner.answered === instance ? secondCancel : firstCancel).abort(HEDGE_LOST);
    return winner;
  } catch {
    return first; // both failed: report the first instance's failure
  }
}

/** Full-jitter backoff before the n-th retry after an answer (25 ms doubling, at most 250 ms). */
function backoff(retry: number): number {
  return Math.random() * Math.min(250, 25 * 2 ** retry);
}

function attemptLimit(context: CallContext, estimate: LatencyEstimate): number | undefined {
  const setting = context.attemptTimeout;
  if (setting === false) return undefined;
  return setting === 'auto' ? estimate.attemptTimeout(ATTEMPT_FLOOR_MS) : setting;
}

/**
 * Sends one call (see {@link run}) and counts it in `series`: its outcome and its duration,
 * retries included (docs/ARCHITECTURE.md, "Metrics"). Counting is two array increments and a
 * 13-step loop; nothing is looked up or allocated by name.
 */
export async function execute(
  context: CallContext,
  entry: ServiceEntry,
  call: string,
  pool: Pool,
  args: unknown,
  options: CallOptions | undefined,
  series: CallSeries,
): Promise<unknown> {
  const started = monotonicNow();
  let outcome = 0;
  try {
    return await run(context, entry, call, pool, args, options, series.retries, series.zones);
  } catch (error) {
    outcome = outcomeOf(error, options?.signal);
    throw error;
  } finally {
    series.record(outcome, (monotonicNow() - started) / 1000);
  }
}

/**
 * Sends one call to an instance of `entry` chosen by the balancer (see docs/ARCHITECTURE.md, "A
 * call"). A connection that could not be made moves on to another instance for any method
 * (nothing was sent); one that broke mid-request does so only for idempotent methods, and either
 * way the instance is marked DOWN at once. An idempotent call that has another instance to go to
 * also moves on when one attempt outlives the per-attempt timeout (from the service's observed
 * latency), when its instance is marked DOWN while it waits, or when the answer is a `retryOn`
 * status (after a jittered backoff). Every retry is paid for from the service's retry budget.
 * 5xx answers, connection failures and timeouts count towards the instance's ejection. One
 * deadline bounds every attempt together.
 */
async function run(
  context: CallContext,
  entry: ServiceEntry,
  call: string,
  resolved: Pool,
  given: unknown,
  options: CallOptions | undefined,
  retries: Float64Array,
  zones: Float64Array,
): Promise<unknown> {
  // A raw body (docs/bodies.md) is the same whichever instance serves the call: read it once.
  const payload = options?.body;
  const first = resolved.route ?? (resolved.up[0] !== undefined ? resolved.routes.get(resolved.up[0]) : undefined);
  const raw: RawBody | undefined = payload === undefined || first === undefined ? undefined : rawBody(payload, first.method, options?.headers);
  if (raw !== undefined) options = { ...options, headers: withoutContentType(options?.headers) };
  // What goes on the wire, what its signature hashes, and its type.
  let body: RequestBody | undefined;
  let signed: string | Uint8Array | undefined;
  let contentType: string | undefined;
  if (raw !== undefined) {
    contentType = raw.contentType;
    // Signed bytes are the bytes sent: a Blob is read once, here.
    if (context.sign) body = signed = await signedBytes(raw);
    else body = raw.payload;
  }
  // A stream is sent once: no hedge, no re-issue, no retry once it has started.
  const once: OnceBody | undefined = raw?.once;
  // The request for the route the instance serves: built before anything is sent when every
  // instance serves the same route (the usual case), else per attempt for the chosen instance.
  let pool = resolved;
  let route = first;
  let args: CallArguments | undefined;
  let path = '';
  // The route actually sent: `route`, or the path of its handler's that the arguments fill.
  let sending: CompiledRoute | undefined;
  const build = (target: CompiledRoute): void => {
    args = normalizeArguments(target, entry.name, call, given);
    sending = chooseRoute(target, args);
    path = buildPath(entry.name, call, sending, args, raw === undefined && sending.sendsBody);
    if (raw === undefined) {
      signed = body = buildBody(sending, args);
      contentType = sending.sendsBody ? 'application/json' : undefined;
    }
  };
  if (route !== undefined) build(route);
  const named = pool.published;
  const timeout = options?.timeout ?? context.timeout;
  // The timeout bounds the whole call: a retry gets what is left of it, not a fresh one.
  const begun = Date.now();
  let deadline = begun + timeout;
  // A call made while serving a request ends no later than that request's own deadline.
  const served = context.served.current();
  const inherited = served?.deadline;
  if (inherited !== undefined && inherited < deadline) {
    if (inherited <= begun) throw new TimeoutError(entry.name, call, path, 0, true);
    deadline = inherited;
  }
  const allowed = deadline - begun;
  const attempts = 1 + context.retries;
  const caller = options?.signal;
  const budget = budgetOf(context, entry);
  const estimate = estimateOf(entry);
  const outliers = context.outliers;
  budget?.deposit(begun);
  let lastError: unknown;
  let previous: Instance | undefined;
  // The instances this call has tried and how each failed (no allocation for a call that succeeds first time).
  let tries: Tries | undefined;
  let refused = false;
  let retryReason: number = RetryReason.connection;
  // The instance to send to again, signed for the process that now answers at its address.
  let resign: Instance | undefined;
  let resigned = false;
  // Whether an instance answered that it does not serve the route (its table row was stale).
  let moved = false;
  // Whether this attempt was counted already (a misrouted one is counted when it is answered).
  let counted = false;
  // Whether this call already waited for an instance to come back UP.
  let waited = false;
  for (let attempt = 0; attempt < attempts; attempt++) {
    // A retry looks at the table as it is now: the instances that serve the call may have changed.
    if (tries !== undefined) pool = pool.current();
    // A first attempt prefers the caller's zone (pool.preferred); a retry may go anywhere.
    const instance = resign ?? (tries === undefined ? pick(context, entry, pool.preferred, estimate, undefined, attempt === 0 ? begun : Date.now()) : pickUntried(context, entry, pool, estimate, tries, Date.now()));
    if (!instance) {
      // Membership took every instance that serves it out while this call waited on one (its
      // attempt was re-issued, and none is left): wait, once and within the deadline, for one to
      // come back (docs/calls.md, "Retries"). Instances that refused connections fail it at once.
      if (tries === undefined || waited || retryReason !== RetryReason.reissue || !(await upAgain(context.cluster, entry.name, deadline - Date.now(), caller))) break;
      // What this call tried still counts: an instance it was re-issued away from is tried again
      // once its suspicion is gone (Verdict.suspected), a silenced one that is still suspected never.
      waited = true;
      attempt--;
      continue;
    }
    // A route that moved between versions: this instance's own path (and parameters).
    const own = pool.route ?? pool.routes.get(instance);
    if (own !== undefined && own !== route) build((route = own));
    const current = sending as CompiledRoute;
    // The budget is spent: no retry storm. A retry after a refused connection is free: nothing
    // reached the service, so moving on adds no load to it. So is a re-signed one (a 401 runs no handler).
    if (resign === undefined && !counted) {
      if (attempt > 0 && budget && !refused && !budget.withdraw(Date.now())) break;
      if (attempt > 0) (retries[retryReason] as number)++;
    }
    counted = false;
    resign = undefined;
    refused = false;
    previous = instance;
    const started = Date.now();
    // A re-signed or moved send is attempt 0 again, but gets only what is left.
    const left = attempt === 0 && !resigned && !moved ? allowed : deadline - started;
    if (left <= 0) throw new TimeoutError(entry.name, call, instance.url + path, allowed);
    // An idempotent attempt that is not the last gets its own limit and can be re-issued: to
    // another UP instance (any, not only the rotation: ejection can leave the rotation one silent
    // instance), or to the same one over another connection. One instance can be several
    // processes (node:cluster workers), and a connection handed to a worker as it died is never
    // answered: a new connection reaches a live worker.
    const spare = current.idempotent && once === undefined && attempt < attempts - 1;
    const perAttempt = spare ? attemptLimit(context, estimate) : undefined;
    const limited = perAttempt !== undefined && perAttempt < left;
    // Re-issued when its instance is suspected or goes DOWN: only worth it with another to go to,
    // now or later. Not only the rotation's: while the others are suspected (a busy caller's probe
    // timed out) the rotation is this instance alone, and if it then goes silent, its calls must
    // still move once the others are trusted again.
    const tracked = spare && pool.instances.length > 1 ? context.inFlight.add(instance) : undefined;
    const attemptLeft = limited ? perAttempt : left;
    const signal = tracked ? (caller ? AbortSignal.any([caller, tracked.signal]) : tracked.signal) : caller;
    // Hedging: idempotent, another instance to ask (at the same route), a p95 to wait, and a retry the budget allows.
    const wait = spare && pool.route !== undefined && (options?.hedge ?? context.hedge) ? estimate.p95() : undefined;
    let response: HttpResponse;
    let answered = instance;
    try {
      if (wait !== undefined && wait < attemptLeft) {
        const send = (target: Instance, cancel: AbortSignal): Promise<Answer> => {
          if (target !== instance) (retries[RetryReason.hedge] as number)++;
          return sendTo(context, entry, estimate, current, named ? current.header : undefined, target, path, body, signed, contentType, options, attemptLeft, left, signal ? AbortSignal.any([signal, cancel]) : cancel, served, zones).then((answer) => ({ response: answer, answered: target }));
        };
        const hedgeable = pool;
        const other = (): Instance | undefined => {
          if (budget !== undefined && !budget.withdraw(Date.now())) return undefined;
          // The instances that serve it as the table stands when the hedge goes out, at the same route.
          const now = hedgeable.current();
          return pick(context, entry, now.route === current ? now : hedgeable, estimate, instance, Date.now());
        };
        ({ response, answered } = await hedged(send, instance, Math.max(1, wait), other));
      } else {
        response = await sendTo(context, entry, estimate, current, named ? current.header : undefined, instance, path, body, signed, contentType, options, attemptLeft, left, signal, served, zones);
      }
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      // The caller's own stream failed: the call fails, and the instance is not to blame.
      if (once?.failed) throw new ConnectionError(entry.name, call, instance.url + path, once.failure);
      if (error.kind === 'too-large') throw new ResponseTooLargeError(entry.name, call, instance.url + path, context.maxResponseBytes, error);
      if (error.kind === 'abort') {
        if (caller?.aborted || !tracked?.signal.aborted) throw caller?.reason ?? error;
        lastError = error; // re-issued: the instance was suspected or went DOWN while the attempt waited
        // Not gone: a suspicion may be refuted, and then the instance is worth another try.
        (tries ??= new Tries()).add(instance, Verdict.suspected);
        retryReason = RetryReason.reissue;
        continue;
      }
      outliers?.failure(entry, instance);
      if (error.kind === 'timeout') {
        observe(loadOf(instance), entry, estimate, Date.now() - started, 1, Date.now()); // as slow as we know it to be, at least
        if (!limited) throw new TimeoutError(entry.name, call, instance.url + path, allowed);
        lastError = error; // this attempt is slow; another instance may not be
        (tries ??= new Tries()).add(instance, Verdict.slow);
        retryReason = RetryReason.timeout;
        continue;
      }
      context.cluster.unreachable(instance);
      lastError = error;
      refused = error.kind === 'connect';
      (tries ??= new Tries()).add(instance, refused ? Verdict.gone : Verdict.broken);
      retryReason = RetryReason.connection;
      // A stream that was read from cannot be sent again; one that was not (no connection) can.
      if (once === undefined ? error.kind === 'connect' || current.idempotent : !once.started) continue;
      throw new ConnectionError(entry.name, call, instance.url + path, error);
    } finally {
      if (tracked) context.inFlight.delete(instance, tracked);
    }
    const status = response.status;
    // A stream body already read from cannot go again: that call ends with the 421 as a RemoteError.
    if (status === MISROUTED_STATUS && named && response.contentType === MISROUTED_TYPE && !once?.started) {
      // Its table row was stale (a restart in place with other routes, routes not fetched yet):
      // it ran nothing, so the call moves on as after a refused connection, for any method, free
      // of the retry budget and of the attempt count; it is never tried again by this call.
      context.stale(answered);
      lastError = new Error(`${answered.url} answered that it does not serve ${current.label}`);
      (tries ??= new Tries()).add(answered, Verdict.gone);
      (retries[RetryReason.misrouted] as number)++;
      refused = true;
      moved = true;
      counted = true;
      attempt--;
      continue;
    }
    const now = Date.now();
    estimate.observe(now - started);
    if (status >= 500) outliers?.failure(entry, answered);
    else outliers?.success(answered);
    const value = decodeAnswer(response, options?.responseType);
    if (status >= 200 && status <= 299) return value;
    if (status === 401 && !resigned && context.claimed !== undefined && once === undefined) {
      // A process restarted in place answers for a new id (docs/ARCHITECTURE.md, "Signed calls"):
      // its signed word says which; the same request goes again, once, signed for it.
      const id = context.claimed((value as { instance?: unknown } | undefined)?.instance, answered.audience);
      if (id !== undefined) {
        answered.audience = id;
        resign = answered;
        resigned = true;
        attempt--;
        continue;
      }
    }
    const failure = new RemoteError(entry.name, call, answered.url + path, status, value);
    if (!spare || !context.retryOn.has(status)) throw failure;
    // Another instance may answer; wait a moment (jittered, so callers do not retry in step).
    const pause = backoff(attempt);
    if (now + pause >= deadline) throw failure;
    lastError = failure;
    (tries ??= new Tries()).add(answered, Verdict.broken);
    retryReason = RetryReason.status;
    await delay(pause);
    if (caller?.aborted) throw caller.reason;
  }
  if (lastError instanceof RemoteError) throw lastError;
  if (lastError instanceof TransportError && lastError.kind === 'timeout') throw new TimeoutError(entry.name, call, (previous?.url ?? '') + path, allowed);
  const reason = lastError ? `no instance could be reached (${(lastError as Error).message})` : 'no instance is UP';
  throw new ServiceUnavailableError(entry.name, call, reason, context.cluster.table.serviceNames(), lastError);
}
