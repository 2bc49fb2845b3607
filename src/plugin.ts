import { createServices, InFlight, OutlierDetector, ServedRequests, type Services } from './client/index.ts';
import { Cluster, discoveryHandler, routeGuard, EtcdMembership, mountDiscovery, DiscoveryTransport, info, type Authorize, type MembershipSource, type DiscoveryEvent, type Guard, type InstanceInfo, type InstanceListener } from './discovery/index.ts';
import { Drain } from './drain/index.ts';
import { redisEvents } from './events/redis/index.ts';
import { Events, EVENTS_PATH, parseDeliveryQuery, parseEventMessage, type DurableEvents, type EmitResult, type EventHandler, type EventPayload, type SubscribeOptions } from './events/index.ts';
import { writeTrace } from './client/trace.ts';
import { ExpressMicroError, OptionError } from './errors/index.ts';
import type { ExpressApp, ListeningServer, Middleware } from './express.ts';
import { MEMBERSHIP_EVENTS, MetricsRegistry, type Metrics } from './metrics/index.ts';
import { forwardingServices, isMounted, microAbove, registerMicro } from './mounted.ts';
import { resolveOptions, resolveTls, type ExpressMicroOptions, type ResolvedOptions, type TlsOptions } from './options.ts';
import { readRoutes } from './routes/index.ts';
import { after, createHttpClient, hostCandidates, sha256Hex, sharedListenerGroup, sourceAddressTowards } from './runtime/index.ts';
import { bearerHeader, bearerSecretIndex, bodyMatches, clientAddress, compileAllowList, createVerifier, digestSignedBody, requireSignature, resolveSecrets, signRequest, type Verifier } from './security/index.ts';

/** What `expressMicro()` returns. */
export interface ExpressMicro {
  /** Calls other services by name: `await services.userService.getUser({ id: 7 })`. */
  readonly services: Services;
  /**
   * Resolves when the app listens and the first join round with the seed peers has finished
   * (joined or not). Rejects with an {@link ExpressMicroError} when the app has not started
   * listening within 5 s (awaiting `ready` before `app.listen()` would otherwise wait forever).
   */
  readonly ready: Promise<void>;
  /** This instance's URL, once the app listens. */
  readonly url: string | undefined;
  /** Listens for an instance that came `up`, went `down`, was `discovered` or `removed`. */
  on(event: DiscoveryEvent, listener: InstanceListener): ExpressMicro;
  /** Removes a listener added with `on`. */
  off(event: DiscoveryEvent, listener: InstanceListener): ExpressMicro;
  /** A snapshot of the membership table, this instance included. */
  peers(): InstanceInfo[];
  /**
   * What this instance counted (calls, their latency, retries, instances by status, probe round
   * trips, membership changes): the figures `GET /_discovery/metrics` answers in the Prometheus
   * text format, as an object keyed by metric name.
   */
  metrics(): Metrics;
  /**
   * Middleware for the app's own routes that accepts only requests signed by the cluster
   * (needs `enableHmac: true`). It goes before or after the app's body parser (`express.json()`
   * and the others): either way it checks the hash of the body's bytes as they were sent.
   */
  requireSignature(): Middleware;
  /**
   * Replaces the client side of `tls` (the CAs peers are verified against, and the certificate
   * presented to them) without a restart: new connections use it, open ones finish and close.
   * Swap the server's side with `server.setSecureContext()`. Throws {@link OptionError} for bad
   * material, or when the instance was started without `tls`.
   */
  updateTls(tls: TlsOptions): void;
  /**
   * Runs `handler(payload, meta)` for each `event` that reaches this instance: one instance of
   * each subscribing group gets an `emit` (the group defaults to this service's name), every
   * subscribing instance a `broadcast`. Published with this instance, like its routes. Returns
   * what unsubscribes. Throws {@link OptionError} for a bad event or group name. See docs/events.md.
   */
  subscribe<Event extends string, Payload = EventPayload<Event>>(event: Event, handler: EventHandler<Payload>, options?: SubscribeOptions): () => void;
  /**
   * Sends `event` to each subscribing group once, on one of its UP instances. Resolves when each
   * group took it or was given up on (`accepted`, `failed`); with no subscriber, both are empty.
   * Rejects with {@link EventError} for a payload it cannot send, or when Redis did not store it.
   */
  emit<Event extends string>(event: Event, payload?: EventPayload<Event>): Promise<EmitResult>;
  /** Sends `event` to every UP subscribing instance, once each, over the cluster (at most once). */
  broadcast<Event extends string>(event: Event, payload?: EventPayload<Event>): Promise<EmitResult>;
  /** Stops the health round, tells the peers this instance is leaving and closes connections. */
  close(): Promise<void>;
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * With several candidate addresses and a seed, picks the one the routing table uses towards the
 * first seed, and says so (a wrong pick is otherwise silent: peers just see the instance DOWN).
 * Undefined when there is nothing to choose.
 */
function chooseHost(settings: ResolvedOptions, choose: (host: string) => void): Promise<void> | undefined {
  const candidates = hostCandidates();
  const seed = settings.peers[0];
  if (candidates.length < 2 || seed === undefined) return undefined;
  const url = new URL(seed);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return sourceAddressTowards(url.hostname, port, 1000).then((source) => {
    const routed = source !== undefined && candidates.includes(source);
    const chosen = routed ? source : settings.host;
    choose(chosen);
    settings.logger.warn(
      `express-micro: this machine has several addresses (${candidates.join(', ')}); ${settings.serviceName} advertises ${chosen}, ` +
        `${routed ? `the one that reaches the seed ${url.origin}` : 'the first (none is the route to the first seed)'}. Set the \`host\` option to choose.`,
    );
  });
}

/**
 * `verifier`, counting each request it accepts under a secret other than the first: discovery
 * and `requireSignature()` share it, so the metric covers both.
 */
function countingPrevious(verifier: Verifier, metrics: MetricsRegistry): Verifier {
  return {
    verify(...args) {
      const result = verifier.verify(...args);
      if (result.ok && result.secret > 0) metrics.acceptedUnderPreviousSecret();
      return result;
    },
    vouch: (...args) => verifier.vouch(...args),
    claimed: (...args) => verifier.claimed(...args),
    get size() {
      return verifier.size;
    },
  };
}

/** How long `ready` waits for the app to listen before it rejects. */
const NOT_LISTENING_AFTER = 5000;

function isServer(value: unknown): value is ListeningServer {
  return typeof value === 'object' && value !== null && typeof (value as Partial<ListeningServer>).address === 'function';
}

function isApp(app: unknown): app is ExpressApp {
  const candidate = app as Partial<ExpressApp> | null;
  return typeof app === 'function' && typeof candidate?.use === 'function' && typeof candidate.get === 'function';
}

/**
 * Turns an Express app into a member of a cluster: mounts `/_discovery`, joins through the seed
 * peers once the app listens, keeps the membership table healthy, and returns the `services`
 * proxy. Throws {@link OptionError} at once for a bad option.
 */
export function expressMicro(app: ExpressApp, options?: ExpressMicroOptions): ExpressMicro {
  if (!isApp(app)) throw new OptionError('app', 'must be an Express application (the function express() returns)');
  const settings = resolveOptions(options);
  // The first secret is sent; the others are accepted while a rotation is under way.
  const secrets = resolveSecrets(settings.secret);
  const secret = secrets[0] as string;
  const allow = compileAllowList(settings.ipWhitelist);
  const metrics = new MetricsRegistry();
  const verifier = settings.enableHmac ? countingPrevious(createVerifier(secrets), metrics) : undefined;
  // A call's signature names the instance it is for, so it cannot be replayed to another one.
  const sign = verifier
    ? (method: string, path: string, body: string | Uint8Array | undefined, audience = '') => signRequest(secret, method, path, body, undefined, audience)
    : undefined;
  // In HMAC mode the secret never crosses the network: requests carry signatures instead.
  const authorize: Authorize = sign ?? (() => ({ authorization: bearerHeader(secret) }));

  const http = createHttpClient(settings.tls);
  // Workers sharing one port are one instance (docs/ARCHITECTURE.md, "Several workers on one port").
  const group = sharedListenerGroup();
  const transport = new DiscoveryTransport(http, authorize);
  // Late-bound: the events are made once the table exists, and publish their subscriptions with the routes.
  let events: Events | undefined;
  const identity = { metadata: settings.metadata, zone: settings.zone, subscriptions: () => events?.published() ?? [] };
  // Two sources fill the one membership table (docs/ARCHITECTURE.md, "The membership seam").
  const cluster: MembershipSource =
    settings.registry.type === 'etcd'
      ? new EtcdMembership({ name: settings.serviceName, registry: settings.registry, pingInterval: settings.pingInterval, pingTimeout: settings.pingTimeout, logger: settings.logger, identity }, transport, () => readRoutes(app))
      : new Cluster(
        {
          name: settings.serviceName,
          shared: group !== undefined,
          peers: settings.peers,
          pingInterval: settings.pingInterval,
          pingTimeout: settings.pingTimeout,
          forgetAfter: settings.forgetAfter,
          indirectChecks: settings.indirectChecks,
          suspicionMultiplier: settings.suspicionMultiplier,
          logger: settings.logger,
          identity,
          onRoundTrip: (milliseconds) => metrics.probes.observe(milliseconds / 1000),
        },
        transport,
        () => readRoutes(app),
      );
  MEMBERSHIP_EVENTS.forEach((event, index) => cluster.events.on(event, () => (metrics.membership[index] as number)++));
  if (settings.onServiceUp) cluster.events.on('up', settings.onServiceUp);
  if (settings.onServiceDown) cluster.events.on('down', settings.onServiceDown);

  const guard: Guard = {
    // Discovery runs before Express has set `req.ip`: work it out the same way, honouring the
    // app's `trust proxy` setting as it stands at the time of the request.
    allowed: allow ? (request) => allow(clientAddress(request, app.get('trust proxy fn'))) : () => true,
    // An event delivery is signed for this instance (a replay to another of its group is refused).
    authenticate: verifier
      ? (request) => {
          const url = request.originalUrl ?? request.url;
          return verifier.verify(request.method, url, request.headers, undefined, url.startsWith(EVENTS_PATH) ? [cluster.id] : undefined);
        }
      : (request) => {
          const header = request.headers.authorization;
          const index = bearerSecretIndex(secrets, typeof header === 'string' ? header : undefined);
          if (index > 0) metrics.acceptedUnderPreviousSecret();
          return index === -1 ? { ok: false, reason: 'missing or wrong bearer token' } : { ok: true };
        },
    bodyMatches,
  };
  // Requests that arrive with a deadline (x-micro-timeout) or a trace (traceparent) are served
  // under them: the calls their handlers make inherit what is left, and the trace.
  const served = new ServedRequests();
  // A call naming a route this instance does not serve is answered 421 before the app sees it.
  const misrouted = routeGuard({
    routes: () => cluster.table.get(cluster.id)?.routes ?? [],
    refresh: () => cluster.refreshRoutes(false),
    // Signed under the cluster's secret, for this process or (a restart in place) the one before it at this address.
    authentic: verifier
      ? (request) => {
          const result = verifier.verify(request.method, request.originalUrl ?? request.url, request.headers, undefined, [cluster.id]);
          return result.ok || result.signedFor !== undefined;
        }
      : () => true,
  });
  // Once the app uses requireSignature(), a signed request's body is hashed as whoever reads it
  // reads it, so the check holds after a body parser too (docs/security.md).
  let signatureRequired = false;
  events = new Events({
    service: settings.serviceName,
    id: () => cluster.id,
    table: cluster.table,
    http,
    // Signed for the receiving instance (audience) under HMAC; the Bearer header otherwise.
    authorize: sign ?? authorize,
    unreachable: (instance) => cluster.unreachable(instance),
    stale: (instance) => cluster.stale(instance),
    trace: () => {
      const trace = served.current()?.trace;
      if (trace === undefined) return undefined;
      const headers: Record<string, string> = {};
      writeTrace(trace, headers);
      return { traceparent: headers.traceparent as string, tracestate: headers.tracestate };
    },
    timeout: settings.timeout,
    logger: settings.logger,
    metrics: metrics.events,
    settings: settings.events,
    published: () => {
      if (cluster.started) cluster.refreshRoutes(true);
    },
    durable: settings.events.durable ? () => loadDurable(settings, cluster.id, metrics) : undefined,
  });
  const eventsHere = events;
  const receiveEvent = (parsed: unknown, query: string): { status: number; payload: unknown } => {
    const target = parseDeliveryQuery(query);
    if (typeof target === 'string') return { status: 400, payload: { error: target } };
    const message = parseEventMessage(parsed);
    if (typeof message === 'string') return { status: 400, payload: { error: message } };
    return eventsHere.receive(message, target.group);
  };
  const serveDiscovery = discoveryHandler(
    cluster,
    guard,
    () => {
      void eventsHere.readBacklog().catch(() => {});
      return metrics.snapshot(cluster.table.instances());
    },
    () => connectionHold(cluster.table.alive, settings.pingInterval),
    receiveEvent,
  );
  // A mounted sub-app is not a member (src/mounted.ts): `/v2/_discovery/…` is its own app's path
  // then, and the routes a call names are the parent's to check.
  mountDiscovery(
    app,
    (request, response, next) => (isMounted(app) ? next() : serveDiscovery(request, response, next)),
    (request, next) => {
      if (signatureRequired) digestSignedBody(request);
      return served.within(request, next);
    },
    (request, response) => !isMounted(app) && misrouted(request, response),
  );
  // Outside discovery's wrapper, so that pings and leaves in flight are counted too.
  const drain = settings.drain === false ? undefined : new Drain({ timeout: settings.drain.timeout, name: settings.serviceName, logger: settings.logger, leave: () => handle.close(), shared: group !== undefined });
  drain?.wrap(app);

  let closing: Promise<void> | undefined;
  let host = settings.host;
  // A detected host that is one of several addresses may be one peers cannot reach: take the one
  // this machine routes the first seed through (decided before the app listens, sending nothing).
  let choosingHost: Promise<void> | undefined = settings.hostGiven ? undefined : chooseHost(settings, (chosen) => (host = chosen));
  void choosingHost?.then(() => (choosingHost = undefined));
  const start = (port: number): void => {
    if (closing || cluster.started || isMounted(app)) return;
    if (choosingHost) {
      void choosingHost.then(() => start(port));
      return;
    }
    const url = `${settings.tls ? 'https' : 'http'}://${formatHost(host)}:${port}`;
    // Every worker of the group derives the same id from what they share: a caller cannot tell
    // which one answered, so a probe, a signature's audience and the table all see one instance.
    cluster.start(url, group === undefined ? undefined : sha256Hex(`${group} ${settings.serviceName} ${url}`).slice(0, 16));
    settings.logger.info(`express-micro: ${settings.serviceName} is reachable at ${cluster.url} (what peers are told)`);
  };
  const learnPort = (server: ListeningServer): void => {
    const address = server.address();
    if (address && typeof address === 'object') start(address.port);
  };
  const watch = (server: ListeningServer): void => {
    // Bun and Node order 'listening' differently against listen()'s return; check both ways.
    if (server.listening) learnPort(server);
    else {
      server.once('listening', () => learnPort(server));
      after(0, () => server.listening && learnPort(server));
    }
    server.once('close', () => void handle.close());
    drain?.serve(server);
  };
  const listen = app.listen;
  if (typeof listen === 'function') {
    app.listen = function listenAndJoin(this: unknown, ...args: unknown[]): unknown {
      let server: ListeningServer | undefined;
      const callback = args[args.length - 1];
      // The user's listen callback runs after the plugin has started, so that `micro.url` and
      // `micro.peers()` are already set inside it (Express passes the server as `this`).
      if (typeof callback === 'function') {
        args[args.length - 1] = function startThenCallback(this: unknown, ...callbackArgs: unknown[]): unknown {
          const listening = isServer(this) ? this : server;
          if (listening) learnPort(listening);
          return (callback as (...values: unknown[]) => unknown).apply(this, callbackArgs);
        };
      }
      server = (listen as (...values: unknown[]) => ListeningServer).apply(this, args);
      if (server && typeof server.address === 'function') watch(server);
      return server;
    };
  }
  // With an explicit port the app may be served some other way (http.createServer(app)).
  if (settings.port !== undefined && settings.port !== 0) {
    const port = settings.port;
    after(0, () => start(port));
  }

  // Once mounted under an app with a micro, this one stands for that one (src/mounted.ts).
  const above = (): ExpressMicro | undefined => (isMounted(app) ? microAbove<ExpressMicro>(app) : undefined);
  let followed: ExpressMicro | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    void cluster.ready.then(resolve);
    const follow = (): void => {
      const micro = above();
      if (micro === undefined || followed !== undefined) return;
      followed = micro;
      drain?.dispose();
      micro.ready.then(resolve, reject);
      // Listeners added to this handle (and onServiceUp/Down) hear the members of the cluster it
      // now stands in; the internal events stay with the micro above, which acts on them.
      for (const event of ['up', 'down', 'discovered', 'removed'] as const) micro.on(event, (instance) => cluster.events.emit(event, instance));
      // Members the micro above took in before this handle followed it (it follows a tick after
      // the mount) are news to its listeners: they hear them now, as a listener there heard them.
      for (const peer of micro.peers()) {
        if (peer.self) continue;
        cluster.events.emit('discovered', peer);
        if (peer.status === 'UP') cluster.events.emit('up', peer);
      }
    };
    (app as { on?: (event: string, listener: () => void) => unknown }).on?.('mount', () => after(0, follow));
    after(0, follow);
    after(NOT_LISTENING_AFTER, () => {
      follow();
      if (cluster.started || closing || followed) return;
      reject(
        new ExpressMicroError(
          `express-micro: ${settings.serviceName} is not listening ${NOT_LISTENING_AFTER} ms after expressMicro(): ` +
            'await micro.ready after app.listen(), or give the `port` option when the app is served another way',
          { service: settings.serviceName },
        ),
      );
    });
  });
  // Nobody has to await `ready`: an unobserved rejection must not crash the process.
  ready.catch(() => {});

  // Idempotent calls waiting on an instance that is suspected, goes DOWN or away move to another at once.
  const inFlight = new InFlight();
  const reissue = (instance: InstanceInfo): void => inFlight.reissue(instance.id);
  cluster.events.on('suspect', reissue);
  cluster.events.on('down', reissue);
  cluster.events.on('removed', reissue);

  // Instances whose calls keep failing leave this caller's rotation for a while.
  const outliers = settings.outlierDetection === false ? undefined : new OutlierDetector(cluster.table, settings.outlierDetection);
  cluster.events.on('ejected', (instance) =>
    settings.logger.warn(`express-micro: ${instance.service} at ${instance.url} is ejected from calls (its calls kept failing, though it answers pings)`),
  );
  cluster.events.on('restored', (instance) => settings.logger.info(`express-micro: ${instance.service} at ${instance.url} is back in the call rotation`));

  const services = createServices({
    cluster,
    http,
    sign,
    claimed: verifier ? (claim: unknown, audience: string) => verifier.claimed(claim, audience) : undefined,
    timeout: settings.timeout,
    retries: settings.retries,
    maxResponseBytes: settings.maxResponseBytes,
    attemptTimeout: settings.attemptTimeout,
    inFlight,
    balancer: settings.balancer,
    outliers,
    retryOn: new Set(settings.retryOn),
    retryBudget: settings.retryBudget,
    served,
    hedge: settings.hedge,
    metrics,
    stale: (instance) => cluster.stale(instance),
    zone: settings.zone,
    refresh: (entry) => {
      if (entry.instances.some((instance) => instance.self)) cluster.refreshRoutes(true);
    },
  });

  const handle: ExpressMicro = {
    services: forwardingServices(app, services),
    ready,
    get url() {
      return cluster.url ?? above()?.url;
    },
    on(event, listener) {
      cluster.events.on(event, listener);
      return handle;
    },
    off(event, listener) {
      cluster.events.off(event, listener);
      return handle;
    },
    peers: () => above()?.peers() ?? [...cluster.table.instances()].map(info),
    metrics: () => above()?.metrics() ?? metrics.snapshot(cluster.table.instances()),
    requireSignature() {
      if (!verifier) throw new OptionError('enableHmac', 'must be true to use requireSignature()');
      signatureRequired = true;
      let audiences = [cluster.id];
      const own = requireSignature(verifier, { allow, audiences: () => (audiences[0] === cluster.id ? audiences : (audiences = [cluster.id])) });
      // In a mounted sub-app, calls are signed for the member above it: its check decides.
      let delegated: Middleware | undefined;
      return (request, response, next) => {
        const micro = above();
        (micro ? (delegated ??= micro.requireSignature()) : own)(request, response, next);
      };
    },
    subscribe(event, handler, options) {
      const micro = above();
      return micro ? micro.subscribe(event, handler, options) : eventsHere.subscribe(event, handler as EventHandler, options);
    },
    emit: (event, payload) => above()?.emit(event, payload) ?? eventsHere.emit(event, payload),
    broadcast: (event, payload) => above()?.broadcast(event, payload) ?? eventsHere.broadcast(event, payload),
    updateTls(tls) {
      if (!settings.tls) throw new OptionError('tls', 'can be updated only on an instance started with `tls` (its URL is http://)');
      http.updateTls(resolveTls(tls));
    },
    close() {
      drain?.dispose();
      outliers?.close();
      closing ??= eventsHere
        .close()
        .catch((error: unknown) => settings.logger.warn(`express-micro: events did not close cleanly: ${(error as Error).message}`))
        .then(() => cluster.close())
        .then(() => http.close())
        .then(() => cluster.events.clear());
      return closing;
    },
  };
  registerMicro(app, handle);
  return handle;
}

/** The durable engine (Redis Streams), loaded only when `events.type` is `'redis'`. */
function loadDurable(settings: ResolvedOptions, consumer: string, metrics: MetricsRegistry): DurableEvents {
  return redisEvents(settings.events.durable as NonNullable<ResolvedOptions['events']['durable']>, {
    consumer,
    logger: settings.logger,
    retried: (event: string, group: string) => metrics.events.count('retried', event, group),
    deadLettered: (event: string, group: string) => metrics.events.count('dead_lettered', event, group),
    claimed: (event: string, group: string) => metrics.events.count('claimed', event, group),
  });
}

/** The longest a member's connection is held open (see connectionHold), in seconds. */
const MAX_CONNECTION_HOLD = 180;

/**
 * How long a member's connection is kept open after its request, in seconds: until that member
 * probes this one again (every N − 1 intervals, a few spare), at least node:http's 5 s, at most 3
 * minutes. Each member so holds up to 2(N − 1) idle sockets, and pays no connect per probe.
 */
function connectionHold(members: number, pingInterval: number): number {
  return Math.min(MAX_CONNECTION_HOLD, Math.max(5, Math.ceil(((members + 2) * pingInterval) / 1000) + 1));
}
