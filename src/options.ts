import { OptionError } from './errors/index.ts';
import type { EventSettings } from './events/events.ts';
import { isGroupName } from './events/names.ts';
import { resolveRegistry, type InstanceInfo, type RegistryOptions, type ResolvedRegistry } from './discovery/index.ts';
import { isZone, parseMetadata, ZONE_RULE } from './discovery/metadata.ts';
import { detectHost, readEnv, readTlsMaterial, TlsMaterialError, type TlsMaterial } from './runtime/index.ts';

/** The logger shape express-micro writes to: pino, console and most loggers fit it. */
export interface Logger {
  /** Detail for debugging (startup, failed joins); optional. */
  debug?(message: string): void;
  /** Normal events. */
  info(message: string): void;
  /** Something went wrong that the cluster recovers from (an instance went DOWN). */
  warn(message: string): void;
  /** Something went wrong that needs attention. */
  error(message: string): void;
}

/** PEM text, as a string or as its bytes (what `fs.readFileSync` returns). */
export type Pem = string | Uint8Array;

/**
 * HTTPS between instances (option `tls`), as PEM text or Buffers. Peers are verified against
 * `ca` (only: the system's CAs are not used); `cert` and `key`, when given, are presented to them
 * (mutual TLS). Serve the app over HTTPS yourself, with the same material (README, "HTTPS").
 */
export interface TlsOptions {
  /** The certificate authorities peers' certificates must chain to: one PEM (a bundle is fine) or several. */
  ca: Pem | readonly Pem[];
  /** This instance's certificate (PEM, the chain may follow), presented to peers it connects to. */
  cert?: Pem;
  /** The private key of `cert` (PEM). */
  key?: Pem;
  /** The passphrase of an encrypted `key`. */
  passphrase?: string;
}

/** Every option `expressMicro(app, options)` takes, with its default. */
export interface ExpressMicroOptions {
  /** This service's name. Default: `npm_package_name` without its `@scope/`, else `'unnamed-service'`. */
  serviceName?: string;
  /** The port this app listens on. Default: learned from `app.listen()` when it starts listening. */
  port?: number;
  /**
   * The address peers reach this app at. Default: this machine's non-internal IPv4 address (the
   * one its routing table uses towards the first seed when it has several), else `127.0.0.1`.
   */
  host?: string;
  /** Seed peers to register with, as `http://host:port` URLs. Default: none. */
  peers?: string[];
  /**
   * Where instances find each other: `{ type: 'gossip' }` (SWIM between the instances, through
   * `peers`), or `{ type: 'etcd', endpoints, prefix?, ttl?, username?, password?, tls? }` (each
   * instance registers in etcd v3 under a lease and watches the others). Default: gossip.
   */
  registry?: RegistryOptions;
  /**
   * Milliseconds between two probe rounds: each round this instance probes one member (so each
   * member is probed about once per interval by someone, whatever the cluster's size). Default: 5000.
   */
  pingInterval?: number;
  /** Milliseconds a probe may take before it counts as unanswered. Default: half of `pingInterval`, at most 2000. */
  pingTimeout?: number;
  /** Milliseconds an instance may stay DOWN before it is forgotten. Default: 12 × `pingInterval`. */
  forgetAfter?: number;
  /** How many other members are asked to probe a member that did not answer, before it is suspected. Default: 3. */
  indirectChecks?: number;
  /**
   * Scales how long a suspected member has to refute the suspicion before it is DOWN:
   * `suspicionMultiplier × max(1, log10 N) × pingInterval` when several members agree, up to 6×
   * that when one suspects alone. Default: 4.
   */
  suspicionMultiplier?: number;
  /** Addresses and CIDR ranges (IPv4 and IPv6) allowed to use `/_discovery`. Default: everyone. */
  ipWhitelist?: string[];
  /** Sign every request this plugin sends with HMAC and refuse unsigned discovery requests. Default: false. */
  enableHmac?: boolean;
  /**
   * The shared secret (at least 16 characters), or a list of them during a rotation: the first
   * is the one sent (the Bearer token, the HMAC key), every one is accepted. Default: env
   * `EXPRESS_DISCOVERY_KEY` (plus `EXPRESS_DISCOVERY_KEY_PREVIOUS`, accepted, never sent), else
   * this, else a 0600 file in the temp dir.
   */
  secret?: string | string[];
  /** Milliseconds a `services` call may take. Default: 10000. */
  timeout?: number;
  /** How many more instances an idempotent call tries after a connection failure. Default: 2. */
  retries?: number;
  /**
   * The most bytes of a 2xx answer a call reads whole (JSON, text, bytes); a longer one fails
   * with `ResponseTooLargeError`. A call with `responseType: 'stream'` has no limit but its
   * reader's. Default: 33554432 (32 MiB). See docs/bodies.md.
   */
  maxResponseBytes?: number;
  /**
   * How long one attempt of an idempotent call (GET, HEAD, PUT, DELETE, OPTIONS) may wait before
   * the call moves to another instance, when there is one: `'auto'` sets it from the service's
   * observed latency (at least 250 ms), a number fixes it in ms, `false` turns it off.
   * Default: `'auto'`.
   */
  attemptTimeout?: number | 'auto' | false;
  /**
   * How calls are spread over a service's instances: `'p2c'` (two random instances, the one with
   * the lower latency per request × outstanding requests wins: a slow instance gets a fraction of
   * a percent, plus one probe call now and then to see whether it is fast again) or
   * `'round-robin'`. Default: `'p2c'`.
   */
  balancer?: 'p2c' | 'round-robin';
  /**
   * Take an instance whose calls keep failing (5xx, connection failures, timeouts) out of the
   * rotation for a while, though it answers pings; `false` turns it off. At most half of a
   * service's instances are ejected at once. Default: 5 failures in a row, 30 s the first time,
   * n × 30 s the n-th, at most 300 s.
   */
  outlierDetection?: { consecutiveFailures?: number; baseEjectionTime?: number; maxEjectionTime?: number } | false;
  /** Answer statuses an idempotent call retries on another instance. Default: `[502, 503, 504]`. */
  retryOn?: number[];
  /**
   * Retries may add at most `ratio` of a service's calls of the last 10 s, plus `minPerSecond`
   * a second; `false` lifts the cap. Default: `{ ratio: 0.2, minPerSecond: 10 }`.
   */
  retryBudget?: { ratio?: number; minPerSecond?: number } | false;
  /**
   * Hedge idempotent calls: when the first instance has not answered within the service's
   * observed p95 latency, also ask another and take the first answer (the other is cancelled).
   * Costs up to ~5% more requests; paid from the retry budget. A call's own `hedge` wins.
   * Default: false.
   */
  hedge?: boolean;
  /**
   * HTTPS with every peer: this instance advertises `https://host:port`, verifies peers against
   * `tls.ca`, presents `tls.cert` (mutual TLS), and never sends to a plain `http://` member.
   * Default: none (plain HTTP).
   */
  tls?: TlsOptions;
  /**
   * Stop gracefully on SIGTERM and SIGINT: leave the cluster (`close()`), finish the requests in
   * flight, close the server `app.listen()` returned, and exit the process (code 0; 1 if
   * `timeout` ms passed first; a second signal exits at once). `true` is `{ timeout: 10000 }`.
   * Default: false (the signals are left to the app).
   */
  drain?: boolean | { timeout?: number };
  /**
   * How events (`micro.emit`, `micro.broadcast`, `micro.subscribe`) travel: over the cluster
   * itself, at most once per group (default, `{ type: 'cluster' }`), or `{ type: 'redis', url }`:
   * `emit` through Redis Streams, at least once, with retries and a dead-letter stream. See
   * docs/events.md.
   */
  events?: EventsOptions;
  /** Where to log, or `false` for silence. Default: `console` (without debug). */
  logger?: Logger | false;
  /**
   * Small string labels this instance publishes with its descriptor (`{ version: '2', track:
   * 'canary' }`): at most 16, keys 1–63 letters, digits, `_`, `.`, `-` (a letter first), values
   * at most 256 characters, 2048 in all. Fixed for the life of the process. Default: `{ version:
   * npm_package_version }` when that is set, else none; a given `metadata` without `version` gets
   * it too.
   */
  metadata?: Record<string, string>;
  /**
   * The zone this instance runs in (`eu-west-1a`): 1–63 letters, digits, `_`, `.`, `-`.
   * Default: env `EXPRESS_MICRO_ZONE`, else none.
   */
  zone?: string;
  /** Called when an instance comes UP (same as `on('up', …)`). */
  onServiceUp?: (instance: InstanceInfo) => void;
  /** Called when an instance goes DOWN (same as `on('down', …)`). */
  onServiceDown?: (instance: InstanceInfo) => void;
}

/** The `events` option: the cluster transport (default) or Redis Streams. */
export type EventsOptions = ClusterEventsOptions | RedisEventsOptions;

/** Events over the cluster itself: no infrastructure, at most once per group. */
export interface ClusterEventsOptions {
  /** `'cluster'`: the instances deliver to each other (the default). */
  type?: 'cluster';
  /** The most bytes of an event's JSON payload; a larger one is refused with `EventError`. Default 262144 (256 KiB), at most 1000000. */
  maxPayloadBytes?: number;
  /** Handlers this instance runs at once. Default 64 (cluster), 16 (redis). */
  maxInFlight?: number;
  /** Cluster deliveries that may wait for a handler here; past it the emitter tries another instance. Default 10000. */
  maxQueued?: number;
}

/** `emit` through Redis Streams: at least once, a consumer group per subscriber group. */
export interface RedisEventsOptions extends Omit<ClusterEventsOptions, 'type'> {
  /** `'redis'`: `emit` goes through Redis Streams. */
  type: 'redis';
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  url: string;
  /** The streams' key prefix: `<prefix>:<event>`, dead letters in `<prefix>:<event>:dead`. Default `express-micro`. */
  prefix?: string;
  /** Handler runs per event before it moves to the dead-letter stream. Default 5. */
  maxAttempts?: number;
  /** Milliseconds an event stays with a consumer that stopped (crashed) before its group's others claim it. Default 30000. */
  claimIdle?: number;
  /** About how many entries each stream keeps (XADD MAXLEN ~). Default 100000. */
  maxLength?: number;
}

/** Options after validation, with every default filled in. */
export interface ResolvedOptions {
  serviceName: string;
  port: number | undefined;
  host: string;
  /** False when `host` was left to detection (then the plugin may pick another candidate). */
  hostGiven: boolean;
  peers: string[];
  registry: ResolvedRegistry;
  pingInterval: number;
  pingTimeout: number;
  forgetAfter: number;
  indirectChecks: number;
  suspicionMultiplier: number;
  ipWhitelist: string[];
  enableHmac: boolean;
  secret: string | string[] | undefined;
  timeout: number;
  retries: number;
  maxResponseBytes: number;
  attemptTimeout: number | 'auto' | false;
  balancer: 'p2c' | 'round-robin';
  outlierDetection: { consecutiveFailures: number; baseEjectionTime: number; maxEjectionTime: number } | false;
  retryOn: number[];
  retryBudget: { ratio: number; minPerSecond: number } | false;
  hedge: boolean;
  /** Checked TLS material, or undefined for plain HTTP. */
  tls: TlsMaterial | undefined;
  drain: { timeout: number } | false;
  events: EventSettings;
  /** Frozen, without a prototype; the shared empty one when there are no labels. */
  metadata: Readonly<Record<string, string>>;
  zone: string | undefined;
  logger: Logger;
  onServiceUp: ((instance: InstanceInfo) => void) | undefined;
  onServiceDown: ((instance: InstanceInfo) => void) | undefined;
}

const KNOWN = new Set([
  'serviceName', 'port', 'host', 'peers', 'registry', 'pingInterval', 'pingTimeout', 'forgetAfter', 'indirectChecks', 'suspicionMultiplier', 'ipWhitelist',
  'enableHmac', 'secret', 'timeout', 'retries', 'maxResponseBytes', 'attemptTimeout', 'balancer', 'outlierDetection', 'retryOn', 'retryBudget', 'tls',
  'hedge', 'drain', 'events', 'metadata', 'zone', 'logger', 'onServiceUp', 'onServiceDown',
]);

/** The default `maxResponseBytes`: 32 MiB. */
const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const silent: Logger = { info() {}, warn() {}, error() {} };
const consoleLogger: Logger = {
  info: (message) => console.info(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};

function positiveInteger(name: string, value: unknown, fallback: number, minimum = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    throw new OptionError(name, `must be an integer ≥ ${minimum}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function attemptTimeout(value: unknown): number | 'auto' | false {
  if (value === undefined || value === 'auto') return 'auto';
  if (value === false) return false;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
  throw new OptionError('attemptTimeout', `must be 'auto', false or an integer ≥ 1 (ms), got ${JSON.stringify(value)}`);
}

function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new OptionError(name, `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function balancer(value: unknown): 'p2c' | 'round-robin' {
  if (value === undefined) return 'p2c';
  if (value === 'p2c' || value === 'round-robin') return value;
  throw new OptionError('balancer', `must be 'p2c' or 'round-robin', got ${JSON.stringify(value)}`);
}

function plainObject(name: string, value: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OptionError(name, `must be an object or false, got ${JSON.stringify(value)}`);
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw new OptionError(name, `has no setting "${key}" (known: ${keys.join(', ')})`);
  }
  return value as Record<string, unknown>;
}

function outlierDetection(value: unknown): ResolvedOptions['outlierDetection'] {
  if (value === false) return false;
  const given = value === undefined ? {} : plainObject('outlierDetection', value, ['consecutiveFailures', 'baseEjectionTime', 'maxEjectionTime']);
  const baseEjectionTime = positiveInteger('outlierDetection.baseEjectionTime', given.baseEjectionTime, 30_000);
  const maxEjectionTime = positiveInteger('outlierDetection.maxEjectionTime', given.maxEjectionTime, Math.max(300_000, baseEjectionTime));
  if (maxEjectionTime < baseEjectionTime) {
    throw new OptionError('outlierDetection.maxEjectionTime', `must be at least baseEjectionTime (${baseEjectionTime} ms), got ${maxEjectionTime}`);
  }
  return { consecutiveFailures: positiveInteger('outlierDetection.consecutiveFailures', given.consecutiveFailures, 5), baseEjectionTime, maxEjectionTime };
}

function retryBudget(value: unknown): ResolvedOptions['retryBudget'] {
  if (value === false) return false;
  const given = value === undefined ? {} : plainObject('retryBudget', value, ['ratio', 'minPerSecond']);
  const ratio = given.ratio ?? 0.2;
  if (typeof ratio !== 'number' || !Number.isFinite(ratio) || ratio < 0) throw new OptionError('retryBudget.ratio', `must be a number ≥ 0, got ${JSON.stringify(ratio)}`);
  return { ratio, minPerSecond: positiveInteger('retryBudget.minPerSecond', given.minPerSecond, 10, 0) };
}

function drain(value: unknown): ResolvedOptions['drain'] {
  if (value === undefined || value === false) return false;
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new OptionError('drain', `must be true, false or { timeout }, got ${JSON.stringify(value)}`);
  }
  const given = value === true ? {} : plainObject('drain', value, ['timeout']);
  return { timeout: positiveInteger('drain.timeout', given.timeout, 10_000) };
}

/** The most `events.maxPayloadBytes` may be: a delivery is a discovery request, whose body is at most 1 MiB. */
const MAX_EVENT_PAYLOAD = 1_000_000;

function events(value: unknown): EventSettings {
  if (value === undefined) return { maxPayloadBytes: 262_144, maxInFlight: 64, maxQueued: 10_000, durable: undefined };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OptionError('events', `must be { type: 'cluster' } or { type: 'redis', url }, got ${JSON.stringify(value)}`);
  const type = (value as { type?: unknown }).type ?? 'cluster';
  if (type !== 'cluster' && type !== 'redis') throw new OptionError('events.type', `must be 'cluster' or 'redis', got ${JSON.stringify(type)}`);
  const common = ['type', 'maxPayloadBytes', 'maxInFlight', 'maxQueued'];
  const given = plainObject('events', value, type === 'redis' ? [...common, 'url', 'prefix', 'maxAttempts', 'claimIdle', 'maxLength'] : common);
  const maxPayloadBytes = positiveInteger('events.maxPayloadBytes', given.maxPayloadBytes, 262_144);
  if (maxPayloadBytes > MAX_EVENT_PAYLOAD) throw new OptionError('events.maxPayloadBytes', `must be at most ${MAX_EVENT_PAYLOAD}, got ${maxPayloadBytes}`);
  const maxInFlight = positiveInteger('events.maxInFlight', given.maxInFlight, type === 'redis' ? 16 : 64);
  const maxQueued = positiveInteger('events.maxQueued', given.maxQueued, 10_000, 0);
  if (type === 'cluster') return { maxPayloadBytes, maxInFlight, maxQueued, durable: undefined };
  const url = given.url;
  if (typeof url !== 'string' || !/^rediss?:\/\/[^\s]+$/.test(url)) throw new OptionError('events.url', `must be a redis:// or rediss:// URL, got ${typeof url === 'string' ? JSON.stringify(url.replace(/\/\/[^@/]*@/, '//…@')) : String(url)}`);
  const prefix = given.prefix ?? 'express-micro';
  if (typeof prefix !== 'string' || !isGroupName(prefix)) throw new OptionError('events.prefix', `must be letters, digits and . _ - (up to 100), got ${JSON.stringify(prefix)}`);
  return {
    maxPayloadBytes,
    maxInFlight,
    maxQueued,
    durable: {
      type: 'redis',
      url,
      prefix,
      maxAttempts: positiveInteger('events.maxAttempts', given.maxAttempts, 5),
      maxInFlight,
      claimIdle: positiveInteger('events.claimIdle', given.claimIdle, 30_000),
      maxLength: positiveInteger('events.maxLength', given.maxLength, 100_000),
    },
  };
}

function retryOn(value: unknown): number[] {
  if (value === undefined) return [502, 503, 504];
  if (!Array.isArray(value) || value.some((status) => !Number.isInteger(status) || status < 400 || status > 599)) {
    throw new OptionError('retryOn', `must be an array of HTTP statuses from 400 to 599, got ${JSON.stringify(value)}`);
  }
  return [...new Set(value as number[])];
}

/**
 * The `metadata` option checked, with `version` from `npm_package_version` (what `npm start`
 * sets) when it has none.
 */
function metadata(value: unknown): Readonly<Record<string, string>> {
  const parsed = parseMetadata(value === undefined ? {} : value);
  if (!('metadata' in parsed)) throw new OptionError(parsed.field, parsed.message);
  const version = readEnv('npm_package_version');
  if (version === undefined || version === '' || parsed.metadata.version !== undefined) return parsed.metadata;
  const withVersion = parseMetadata({ ...parsed.metadata, version });
  // An odd npm_package_version (too long, a control character) is left out rather than refused: the app did not give it.
  return 'metadata' in withVersion ? withVersion.metadata : parsed.metadata;
}

/** The `zone` option, else env `EXPRESS_MICRO_ZONE`. */
function zone(value: unknown): string | undefined {
  if (value !== undefined) {
    if (!isZone(value)) throw new OptionError('zone', `must be ${ZONE_RULE}; got ${JSON.stringify(value)}`);
    return value;
  }
  const fromEnv = readEnv('EXPRESS_MICRO_ZONE');
  if (fromEnv === undefined || fromEnv === '') return undefined;
  if (!isZone(fromEnv)) throw new OptionError('zone', `(from env EXPRESS_MICRO_ZONE) must be ${ZONE_RULE}; got ${JSON.stringify(fromEnv)}`);
  return fromEnv;
}

/** The name `npm start` gives the process (`npm_package_name`), without an `@scope/`. */
function packageName(): string | undefined {
  const name = readEnv('npm_package_name');
  if (!name) return undefined;
  return name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
}

/** Turns a seed peer into its origin (`http://host:port`), or throws naming `peers`. */
export function normalizePeer(peer: unknown): string {
  if (typeof peer !== 'string') throw new OptionError('peers', `must hold URL strings, got ${JSON.stringify(peer)}`);
  let url: URL;
  try {
    url = new URL(peer);
  } catch {
    throw new OptionError('peers', `holds "${peer}", which is not a URL (expected http://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OptionError('peers', `holds "${peer}"; only http: and https: URLs are supported`);
  }
  if (url.username || url.password) throw new OptionError('peers', `holds "${url.origin}" with credentials; the secret authenticates peers`);
  return url.origin;
}

/** Checks the `tls` option (and a later `updateTls`); throws {@link OptionError} naming the field. */
export function resolveTls(tls: unknown): TlsMaterial {
  try {
    return readTlsMaterial(tls);
  } catch (error) {
    if (error instanceof TlsMaterialError) throw new OptionError(error.field, error.message);
    throw error;
  }
}

/** Validates `options` and fills in defaults; throws {@link OptionError} naming the first bad option. */
export function resolveOptions(options: ExpressMicroOptions | undefined): ResolvedOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new OptionError('options', 'must be an object');
  }
  const given = options ?? {};
  for (const key of Object.keys(given)) {
    if (!KNOWN.has(key)) throw new OptionError(key, `is not an option of express-micro (known: ${[...KNOWN].join(', ')})`);
  }

  const serviceName = given.serviceName ?? packageName() ?? 'unnamed-service';
  if (typeof serviceName !== 'string' || !SERVICE_NAME.test(serviceName)) {
    throw new OptionError('serviceName', `must be 1–100 letters, digits, ".", "_" or "-", starting with a letter or digit; got ${JSON.stringify(serviceName)}`);
  }
  const port = given.port === undefined ? undefined : positiveInteger('port', given.port, 0, 0);
  if (port !== undefined && port > 65535) throw new OptionError('port', `must be at most 65535, got ${port}`);
  if (given.host !== undefined && (typeof given.host !== 'string' || given.host.length === 0 || /[\s/@?#]/.test(given.host))) {
    throw new OptionError('host', `must be a host name or IP address, got ${JSON.stringify(given.host)}`);
  }
  if (given.peers !== undefined && !Array.isArray(given.peers)) throw new OptionError('peers', 'must be an array of URLs');
  const peers = [...new Set((given.peers ?? []).map(normalizePeer))];
  const registry = resolveRegistry(given.registry);
  if (registry.type === 'etcd' && peers.length > 0) throw new OptionError('peers', 'is for gossip; with registry etcd, instances find each other in etcd');

  const pingInterval = positiveInteger('pingInterval', given.pingInterval, 5000, 10);
  const pingTimeout = positiveInteger('pingTimeout', given.pingTimeout, Math.max(5, Math.min(2000, Math.floor(pingInterval / 2))));
  if (pingTimeout >= pingInterval) throw new OptionError('pingTimeout', `must be below pingInterval (${pingInterval} ms), got ${pingTimeout}`);
  const forgetAfter = positiveInteger('forgetAfter', given.forgetAfter, 12 * pingInterval);

  if (given.ipWhitelist !== undefined && (!Array.isArray(given.ipWhitelist) || given.ipWhitelist.some((entry) => typeof entry !== 'string'))) {
    throw new OptionError('ipWhitelist', 'must be an array of IP addresses or CIDR ranges');
  }
  if (given.enableHmac !== undefined && typeof given.enableHmac !== 'boolean') throw new OptionError('enableHmac', 'must be true or false');
  // Lengths, duplicates and the environment are checked where the secret is resolved (security/secret.ts).
  if (given.secret !== undefined && typeof given.secret !== 'string' && !Array.isArray(given.secret)) {
    throw new OptionError('secret', 'must be a string or an array of strings');
  }
  for (const name of ['onServiceUp', 'onServiceDown'] as const) {
    if (given[name] !== undefined && typeof given[name] !== 'function') throw new OptionError(name, 'must be a function');
  }
  const tls = given.tls === undefined ? undefined : resolveTls(given.tls);
  const plain = tls ? peers.find((peer) => !peer.startsWith('https:')) : undefined;
  if (plain) throw new OptionError('peers', `holds "${plain}": with \`tls\` every peer must be an https:// URL (an instance that uses TLS never sends over plain HTTP)`);
  const logger = given.logger;
  if (logger !== undefined && logger !== false && (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function')) {
    throw new OptionError('logger', 'must be a logger with info/warn/error methods, or false');
  }

  return {
    serviceName,
    port,
    host: given.host ?? detectHost(),
    hostGiven: given.host !== undefined,
    peers,
    registry,
    pingInterval,
    pingTimeout,
    forgetAfter,
    indirectChecks: positiveInteger('indirectChecks', given.indirectChecks, 3, 0),
    suspicionMultiplier: positiveInteger('suspicionMultiplier', given.suspicionMultiplier, 4, 1),
    ipWhitelist: given.ipWhitelist ?? [],
    enableHmac: given.enableHmac ?? false,
    secret: given.secret,
    timeout: positiveInteger('timeout', given.timeout, 10_000),
    retries: positiveInteger('retries', given.retries, 2, 0),
    maxResponseBytes: positiveInteger('maxResponseBytes', given.maxResponseBytes, DEFAULT_MAX_RESPONSE_BYTES),
    attemptTimeout: attemptTimeout(given.attemptTimeout),
    balancer: balancer(given.balancer),
    outlierDetection: outlierDetection(given.outlierDetection),
    retryOn: retryOn(given.retryOn),
    retryBudget: retryBudget(given.retryBudget),
    hedge: flag('hedge', given.hedge, false),
    tls,
    drain: drain(given.drain),
    events: events(given.events),
    metadata: metadata(given.metadata),
    zone: zone(given.zone),
    logger: logger === false ? silent : (logger ?? consoleLogger),
    onServiceUp: given.onServiceUp,
    onServiceDown: given.onServiceDown,
  };
}
