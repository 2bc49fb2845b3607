import type { IncomingRequest, Middleware, OutgoingResponse } from '../express.ts';
import { answerMember } from '../runtime/index.ts';
import { EXPOSITION_CONTENT_TYPE, writeExposition, type Metrics } from '../metrics/index.ts';
import { bodyConsumed, readRawBody } from '../security/index.ts';
import { NO_METADATA } from './metadata.ts';
import { serviceKey } from './service-name.ts';
import type { GossipProtocol, MembershipSource } from './source.ts';
import type { Instance } from './table.ts';
import { parseDescribe, parseGossip, parseLeave, parsePing, parsePingRequest, parseRegister } from './validate.ts';

/** The outcome of checking a request's credentials. */
export type AuthResult = { ok: true; bodyHash?: string } | { ok: false; reason: string };

/** The security checks the discovery endpoints run, wired in by the plugin. */
export interface Guard {
  /** False when the client's address is not on the allow-list. */
  allowed(request: IncomingRequest): boolean;
  /** Checks the Bearer secret, or the HMAC signature headers, before the body is read. */
  authenticate(request: IncomingRequest): AuthResult;
  /** With HMAC: whether the body read afterwards is the one the signature covers. */
  bodyMatches(bodyHash: string, body: string): boolean;
}

type Endpoint = 'register' | 'describe' | 'ping' | 'ping-req' | 'gossip' | 'services' | 'metrics' | 'leave' | 'events';

/** Takes a parsed event delivery (`POST /_discovery/events?group=…`): the plugin's events answer it. */
export type EventReceiver = (message: unknown, query: string) => { status: number; payload: unknown };

/** The endpoints answered without a body: `answerMessage` never sees them. */
type ReadOnlyEndpoint = 'services' | 'metrics';

const ENDPOINTS = new Map<string, Endpoint>([
  ['POST /register', 'register'],
  ['POST /describe', 'describe'],
  ['POST /ping', 'ping'],
  ['GET /ping', 'ping'],
  ['POST /ping-req', 'ping-req'],
  ['POST /gossip', 'gossip'],
  ['GET /services', 'services'],
  ['GET /metrics', 'metrics'],
  ['POST /leave', 'leave'],
  ['POST /events', 'events'],
]);

const PATHS = new Set([...ENDPOINTS.keys()].map((key) => key.slice(key.indexOf(' ') + 1)));

function send(response: OutgoingResponse, status: number, payload: unknown): void {
  response.statusCode = status;
  response.setHeader('content-type', 'application/json; charset=utf-8');
  response.setHeader('cache-control', 'no-store');
  response.end(JSON.stringify(payload));
}

/** Discovery speaks plain `application/json` only (no `+json` types, unlike requireSignature). */
function isJson(request: IncomingRequest): boolean {
  const type = request.headers['content-type'];
  return typeof type === 'string' && /^application\/json\s*(;|$)/i.test(type);
}

/** Whether the request's Accept header asks for JSON (the dashboard's form of the metrics). */
function wantsJson(request: IncomingRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && /(^|,)\s*application\/json\s*(;|,|$)/i.test(accept);
}

function sendMetrics(request: IncomingRequest, response: OutgoingResponse, metrics: Metrics): void {
  if (wantsJson(request)) return send(response, 200, metrics);
  response.statusCode = 200;
  response.setHeader('content-type', EXPOSITION_CONTENT_TYPE);
  response.setHeader('cache-control', 'no-store');
  response.end(writeExposition(metrics));
}

/**
 * The `/_discovery` endpoints as one middleware, served ahead of the app's own (see intercept.ts). The
 * address and the credentials are checked before a byte of the body is read; bodies are read
 * with a size limit by this handler alone, so nothing is added to the app's other routes.
 * `metrics` gives what `GET /_discovery/metrics` answers (Prometheus text, or JSON when asked);
 * `hold`, how many seconds a member's connection is kept open after its request.
 */
export function discoveryHandler(cluster: MembershipSource, guard: Guard, metrics: () => Metrics, hold?: () => number, events?: EventReceiver): Middleware {
  return (request, response, next) => {
    const path = request.url.split('?', 1)[0] ?? '';
    const endpoint = ENDPOINTS.get(`${request.method} ${path}`);
    if (!endpoint) {
      if (PATHS.has(path)) send(response, 405, { error: 'method not allowed' });
      else next();
      return;
    }
    if (!guard.allowed(request)) return send(response, 403, { error: 'forbidden' });
    const auth = guard.authenticate(request);
    if (!auth.ok) {
      response.setHeader('www-authenticate', 'Bearer realm="express-micro"');
      return send(response, 401, { error: 'unauthorized', reason: auth.reason });
    }
    if (!cluster.started) return send(response, 503, { error: 'not started' });
    // A member's connection is kept until it comes back to this one (see runtime/keep-alive).
    if (hold && request.method === 'POST') answerMember(response, hold());
    if (endpoint === 'services') return send(response, 200, servicesView(cluster));
    if (endpoint === 'metrics') return sendMetrics(request, response, metrics());
    if (request.method === 'GET') return send(response, 200, cluster.onPing(undefined));
    if (endpoint === 'events') {
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
      void readMessage(guard, auth.bodyHash, request, response)
        .then((parsed) => {
          if (parsed === NO_MESSAGE) return;
          const answer = events ? events(parsed, query) : { status: 404, payload: { error: 'events are off' } };
          send(response, answer.status, answer.payload);
        })
        .catch(next);
      return;
    }
    const gossip = cluster.gossip;
    // Membership from a registry: the ping is a health check (its body carries no news to read);
    // the gossip endpoints are off.
    if (!gossip) return endpoint === 'ping' ? send(response, 200, cluster.onPing(undefined)) : send(response, 404, { error: 'gossip is off: this instance finds its peers in a registry' });
    // A newcomer that describes or registers with an instance after its goodbyes went out would
    // list it UP, and nobody would tell it otherwise until its own probes found it gone.
    if (gossip.leaving && (endpoint === 'register' || endpoint === 'describe')) return send(response, 503, { error: 'leaving' });
    void handleWithBody(endpoint, gossip, guard, auth.bodyHash, request, response).catch(next);
  };
}

/** What `readMessage` returns when it has answered the request itself (a bad body). */
const NO_MESSAGE: unique symbol = Symbol('no message');

/** The request's JSON body, checked against its signature; a bad one is answered here (NO_MESSAGE). */
async function readMessage(guard: Guard, bodyHash: string | undefined, request: IncomingRequest, response: OutgoingResponse): Promise<unknown> {
  const hasBody = (request.headers['content-length'] ?? '0') !== '0' || request.headers['transfer-encoding'] !== undefined;
  if (hasBody && !isJson(request) && !bodyConsumed(request)) return (send(response, 415, { error: 'expected application/json' }), NO_MESSAGE);
  const body = await readBodyText(request);
  if (typeof body !== 'string') {
    if (body.status === 413) response.setHeader('connection', 'close');
    return (send(response, body.status, { error: body.reason }), NO_MESSAGE);
  }
  if (bodyHash !== undefined && !guard.bodyMatches(bodyHash, body)) return (send(response, 401, { error: 'unauthorized', reason: 'body does not match its signature' }), NO_MESSAGE);
  if (body === '') return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return (send(response, 400, { error: 'body is not JSON' }), NO_MESSAGE);
  }
}

async function handleWithBody(endpoint: Exclude<Endpoint, ReadOnlyEndpoint | 'events'>, cluster: GossipProtocol, guard: Guard, bodyHash: string | undefined, request: IncomingRequest, response: OutgoingResponse): Promise<void> {
  const parsed = await readMessage(guard, bodyHash, request, response);
  if (parsed === NO_MESSAGE) return;
  const answer = await answerMessage(cluster, endpoint, parsed);
  return send(response, answer.status, answer.payload);
}

/**
 * Validates one parsed discovery message and hands it to the cluster: the one place where wire
 * messages meet membership (the simulation in test/simulation calls it too).
 */
export async function answerMessage(cluster: GossipProtocol, endpoint: Exclude<Endpoint, ReadOnlyEndpoint | 'events'>, parsed: unknown): Promise<{ status: number; payload: unknown }> {
  const refuse = (error: string) => {
    if (error.includes('unsupported protocol')) cluster.refusedProtocol(error);
    return { status: 400, payload: { error } };
  };
  switch (endpoint) {
    case 'ping': {
      const ping = parsePing(parsed);
      return typeof ping === 'string' ? refuse(ping) : { status: 200, payload: cluster.onPing(ping) };
    }
    case 'ping-req': {
      const request = parsePingRequest(parsed);
      return typeof request === 'string' ? refuse(request) : { status: 200, payload: await cluster.onPingRequest(request) };
    }
    case 'gossip': {
      const gossip = parseGossip(parsed);
      return typeof gossip === 'string' ? refuse(gossip) : { status: 200, payload: cluster.onGossip(gossip) };
    }
    case 'leave': {
      const leave = parseLeave(parsed);
      if (typeof leave === 'string') return refuse(leave);
      cluster.onLeave(leave.id);
      return { status: 200, payload: { ok: true } };
    }
    case 'describe': {
      const describe = parseDescribe(parsed);
      return typeof describe === 'string' ? refuse(describe) : { status: 200, payload: cluster.onDescribe(describe) };
    }
    case 'register': {
      const register = parseRegister(parsed);
      return typeof register === 'string' ? refuse(register) : { status: 200, payload: cluster.onRegister(register) };
    }
  }
}

/** The most a discovery request body may hold: a thousand routes fit with room to spare. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The body as text. When a body parser in front of the plugin already consumed it, the raw
 * bytes are gone: what it parsed is serialised again, which gives back exactly what a peer's
 * JSON.stringify sent, so even a signed body's hash still matches.
 */
async function readBodyText(request: IncomingRequest): Promise<string | { status: number; reason: string }> {
  if (bodyConsumed(request)) {
    if (request.body === undefined) return '';
    try {
      return JSON.stringify(request.body);
    } catch {
      // A body nested deeper than the stack allows: refused like any other malformed body.
      return { status: 400, reason: 'body cannot be serialised again (nested too deeply)' };
    }
  }
  const body = await readRawBody(request, MAX_BODY_BYTES);
  return body.ok ? body.text : body;
}

/** The seed's `/_discovery/services` shape, with every instance listed. */
export interface ServicesView {
  thisService: {
    name: string;
    id: string;
    url: string;
    routes: Instance['routes'];
    /** Its labels (option `metadata`); `{}` when none. */
    metadata: Instance['metadata'];
    /** Its zone (option `zone`); null when none. */
    zone: string | null;
    /** The events it subscribes to, with their groups (`micro.subscribe`); `[]` when none. */
    events: Instance['events'];
  };
  connectedPeers: Record<
    string,
    {
      url: string;
      routes: Instance['routes'];
      status: 'UP' | 'DOWN';
      instances: {
        id: string;
        url: string;
        status: 'UP' | 'DOWN';
        suspect: boolean;
        incarnation: number;
        lastSeen: number;
        /** The last direct-probe round trip measured by the answering instance, in ms; null before one. */
        roundTripMs: number | null;
        /** Out of the answering instance's call rotation (outlier ejection). */
        ejected: boolean;
        /** Its labels (option `metadata`); `{}` when none. */
        metadata: Instance['metadata'];
        /** Its zone (option `zone`); null when none. */
        zone: string | null;
        /** The events it subscribes to, with their groups; `[]` when none. */
        events: Instance['events'];
      }[];
    }
  >;
}

/** Builds the `/_discovery/services` answer from the table. */
export function servicesView(cluster: MembershipSource): ServicesView {
  const self = cluster.descriptor();
  // Keys are service names that passed validation (they start with a letter or digit), and the
  // object has no prototype, so a name can never reach Object.prototype.
  const connectedPeers: ServicesView['connectedPeers'] = Object.create(null);
  for (const name of cluster.table.serviceNames()) {
    const entry = cluster.table.service(serviceKey(name));
    const others = entry?.instances.filter((instance) => !instance.self) ?? [];
    const first = entry?.up.find((instance) => !instance.self) ?? others[0];
    if (!first) continue;
    connectedPeers[name] = {
      url: first.url,
      routes: first.routes,
      status: others.some((instance) => instance.status === 'UP') ? 'UP' : 'DOWN',
      instances: others.map((instance) => ({
        id: instance.id,
        url: instance.url,
        status: instance.status,
        suspect: instance.suspect,
        incarnation: instance.incarnation,
        lastSeen: instance.lastSeen,
        roundTripMs: instance.roundTripMs ?? null,
        ejected: instance.ejectedUntil !== 0,
        metadata: instance.metadata,
        zone: instance.zone ?? null,
        events: instance.events,
      })),
    };
  }
  return {
    thisService: { name: self.name, id: self.id, url: self.url, routes: self.routes, metadata: self.metadata ?? NO_METADATA, zone: self.zone ?? null, events: self.events ?? [] },
    connectedPeers,
  };
}
