import type { Logger } from '../../options.ts';
import type { RouteDescriptor } from '../../routes/index.ts';
import { after, createStreamingClient, randomHex, TransportError, type StreamingHttpClient, type Timer } from '../../runtime/index.ts';
import type { DiscoveryClient } from '../cluster.ts';
import { Emitter } from '../emitter.ts';
import { LocalMember, type Identity } from '../local-member.ts';
import type { GossipProtocol, MembershipSource } from '../source.ts';
import { MembershipTable, type Instance } from '../table.ts';
import { type Descriptor, type PingAnswer, type PingMessage } from '../types.ts';
import { parseDescriptor, parsePingAnswer } from '../validate.ts';
import { decode, encode, EtcdAnswerError, EtcdCredentialsError, EtcdGateway, prefixEnd } from './gateway.ts';
import type { ResolvedEtcdRegistry } from './options.ts';

/** What the etcd source needs, taken from the resolved options. */
export interface EtcdSettings {
  name: string;
  registry: ResolvedEtcdRegistry;
  /** How often an instance a call could not reach is pinged until it answers or its record goes. */
  pingInterval: number;
  pingTimeout: number;
  logger: Logger;
  /** This instance's labels and zone (options `metadata`, `zone`), written into its record. */
  identity?: Identity;
}

/** The most a record may hold: the same limit as a discovery request body. */
const MAX_RECORD_BYTES = 1024 * 1024;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const ID = /^[A-Za-z0-9_-]{8,64}$/;

/**
 * Membership from etcd v3 (docs/ARCHITECTURE.md, "The etcd registry"): this instance writes its
 * descriptor under `<prefix><service>/<id>`, bound to a lease it keeps alive, and watches the
 * prefix from the revision of its first read, applying every record to the same
 * {@link MembershipTable} gossip would fill. etcd being away changes nothing in the table (static
 * stability): the last view is kept, requests are retried with backoff, the lease is taken again
 * if it expired meanwhile, and a watch that fell behind a compaction reads everything again and
 * applies the difference.
 */
export class EtcdMembership implements MembershipSource {
  readonly events: Emitter;
  readonly table: MembershipTable;
  readonly ready: Promise<void>;
  /** No gossip endpoints: the registry is the source. */
  readonly gossip: GossipProtocol | undefined = undefined;

  readonly #settings: EtcdSettings;
  readonly #registry: ResolvedEtcdRegistry;
  readonly #http: StreamingHttpClient;
  readonly #gateway: EtcdGateway;
  readonly #client: DiscoveryClient;
  readonly #member: LocalMember;
  readonly #stop = new AbortController();
  readonly #timers = new Set<{ timer: Timer; resolve: () => void }>();
  /** etcd key → the id of the instance its record describes. */
  readonly #keys = new Map<string, string>();
  /** Keys whose record was refused and logged (once each, until the record changes or goes). */
  readonly #ignored = new Map<string, string>();
  readonly #rechecking = new Set<string>();
  #resolveReady: () => void = () => {};
  #lease: string | undefined;
  /** The revision the table reflects: the watch resumes after it. */
  #revision = 0;
  #mustRead = true;
  /** Undefined before the first answer; false while etcd cannot be reached. */
  #reachable: boolean | undefined;
  #refusedCredentials = false;
  #closed = false;
  /** The lease granted last, its record perhaps not written yet. */
  #granted: string | undefined;

  constructor(settings: EtcdSettings, client: DiscoveryClient, readRoutes: () => RouteDescriptor[], http?: StreamingHttpClient) {
    this.#settings = settings;
    this.#registry = settings.registry;
    this.#http = http ?? createStreamingClient(settings.registry.tls);
    this.#gateway = new EtcdGateway(this.#http, settings.registry.endpoints, settings.registry.credentials);
    this.#client = client;
    this.events = new Emitter((error) => settings.logger.error(`express-micro: an event listener threw: ${String(error)}`));
    this.events.on('up', (instance) => settings.logger.info(`express-micro: ${instance.service} at ${instance.url} is UP`));
    this.table = new MembershipTable(this.events);
    this.#member = new LocalMember(settings.name, randomHex(8), this.table, readRoutes, Date.now, settings.identity);
    this.ready = new Promise((resolve) => (this.#resolveReady = resolve));
  }

  get id(): string {
    return this.#member.id;
  }

  get url(): string | undefined {
    return this.#member.instance?.url;
  }

  get started(): boolean {
    return this.#member.instance !== undefined;
  }

  /** Requests sent to etcd so far (the bench's requests per instance per minute). */
  get etcdRequests(): number {
    return this.#gateway.requests;
  }

  /** This instance's record's key. */
  get key(): string {
    return `${this.#registry.prefix}${this.#settings.name}/${this.#member.id}`;
  }

  start(url: string, id?: string): void {
    if (this.#closed || !this.#member.start(url, id)) return;
    const registered = this.#leaseLoop();
    const read = this.#watchLoop();
    // Ready once the first registration and the first read were tried, whether etcd answered or not.
    void Promise.all([registered, read]).then(() => this.#resolveReady());
  }

  descriptor(): Descriptor {
    return this.#member.descriptor();
  }

  /** Nothing to fetch: an instance's new routes come with its record, which the watch delivers. */
  stale(_instance: Instance): void {}

  refreshRoutes(force: boolean): void {
    // The new routes reach the others through the record; without a lease the next grant writes them.
    const lease = this.#lease;
    if (this.#member.refreshRoutes(force) && lease !== undefined) void this.#put(lease).catch((error: unknown) => this.#trouble('publishing new routes', error));
  }

  onPing(_message: PingMessage | undefined): PingAnswer {
    const self = this.#member.require();
    this.refreshRoutes(false);
    return { id: self.id, name: self.name, rev: self.rev, incarnation: this.#member.incarnation, digest: this.table.digest(), updates: [] };
  }

  /**
   * A call could not connect: the instance leaves the rotation at once, and is pinged every
   * `pingInterval` until it answers (back in) or its record goes (its lease expired: removed).
   */
  unreachable(instance: Instance): void {
    if (this.#closed || instance.self || instance.status !== 'UP') return;
    this.table.markSuspect(instance);
    if (this.#rechecking.has(instance.id)) return;
    this.#rechecking.add(instance.id);
    void this.#recheck(instance).finally(() => this.#rechecking.delete(instance.id));
  }

  async #recheck(instance: Instance): Promise<void> {
    const self = this.#member.require();
    while (!this.#closed && this.table.get(instance.id) === instance && instance.suspect) {
      await this.#sleep(this.#settings.pingInterval);
      if (this.#closed || this.table.get(instance.id) !== instance) return;
      try {
        const message: PingMessage = { id: self.id, url: self.url, target: instance.id, updates: [] };
        const answer = parsePingAnswer(await this.#client.post(instance.url, '/_discovery/ping', message, this.#settings.pingTimeout));
        if (typeof answer !== 'string' && answer.id === instance.id && this.table.get(instance.id) === instance) this.table.markUp(instance);
      } catch {
        // Still unreachable: it stays out of the rotation until its record goes.
      }
    }
  }

  /** Revokes the lease (the record goes at once, and the others drop this instance) and stops. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    for (const { timer, resolve } of this.#timers) {
      timer.stop();
      resolve();
    }
    this.#timers.clear();
    this.#resolveReady();
    const lease = this.#lease ?? this.#granted;
    this.#lease = undefined;
    if (lease !== undefined) await this.#gateway.call('/v3/lease/revoke', { ID: lease }, 1000).catch(() => {});
    await this.#http.close();
  }

  // ---- the lease: register, keep alive, register again ----------------------------------------

  /** Requests may take this long: well inside a lease's life, so another endpoint can be tried. */
  get #timeout(): number {
    return Math.max(500, Math.min(2000, (this.#registry.ttl * 1000) / 4));
  }

  /** Resolves after the first registration attempt; keeps the lease alive until close. */
  #leaseLoop(): Promise<void> {
    return this.#loop(
      async () => {
        if (this.#lease === undefined) await this.#register();
        else if (!(await this.#keepAlive(this.#lease))) {
          this.#settings.logger.warn(`express-micro: the etcd lease of ${this.#settings.name} is gone (it expired while etcd could not be reached for ${this.#registry.ttl} s, or was revoked); registering again`);
          this.#lease = undefined;
          return 0;
        }
        this.#fine();
        return (this.#registry.ttl * 1000) / 3;
      },
      (error) => this.#trouble(this.#lease === undefined ? 'registering' : 'renewing the lease', error),
    );
  }

  async #register(): Promise<void> {
    const grant = await this.#gateway.call('/v3/lease/grant', { TTL: this.#registry.ttl }, this.#timeout);
    const lease = typeof grant.ID === 'string' && /^[0-9]+$/.test(grant.ID) ? grant.ID : undefined;
    if (lease === undefined) throw new EtcdAnswerError('etcd granted no lease', 0);
    // close() may come while the put is on its way (the others can see the record before this
    // instance hears back): it revokes this lease too, so the record goes either way.
    this.#granted = lease;
    if (this.#closed) {
      await this.#gateway.call('/v3/lease/revoke', { ID: lease }, 1000).catch(() => {});
      return;
    }
    const written = await this.#put(lease);
    this.#lease = lease;
    // Routes or subscriptions that changed while that put was on its way found no lease to write
    // under (the others may already list this instance then): write them now, or they are lost.
    if (this.#member.require().rev !== written) await this.#put(lease);
  }

  /** Writes this instance's record under `lease`; resolves with the routes' revision it wrote. */
  async #put(lease: string): Promise<string> {
    const descriptor = this.descriptor();
    await this.#gateway.call('/v3/kv/put', { key: encode(this.key), value: encode(JSON.stringify(descriptor)), lease }, this.#timeout);
    return descriptor.rev;
  }

  /** True while the lease lives; false when etcd no longer knows it (it expired). */
  async #keepAlive(lease: string): Promise<boolean> {
    const answer = await this.#gateway.call('/v3/lease/keepalive', { ID: lease }, this.#timeout);
    const result = answer.result as Record<string, unknown> | undefined;
    const ttl = Number(result?.TTL ?? 0);
    return Number.isFinite(ttl) && ttl > 0;
  }

  // ---- the view: read, watch, read again ------------------------------------------------------

  /** Resolves after the first read attempt; watches until close. */
  #watchLoop(): Promise<void> {
    return this.#loop(
      async (tried) => {
        if (this.#mustRead) await this.#read();
        tried();
        if (await this.#watch()) return 0;
        // Ended before it was opened (etcd refused it quietly): not straight back, unless it must read.
        return this.#mustRead ? 0 : 'backoff';
      },
      (error) => {
        this.#trouble(this.#mustRead ? 'reading the registry' : 'watching the registry', error);
        if (error instanceof TransportError) this.#gateway.next();
      },
    );
  }

  /**
   * Runs `round` until close. A round returns how long to rest before the next (etcd answered:
   * the backoff starts over) or `'backoff'`; one that throws is reported to `failed` and backed
   * off. Resolves once the first round was tried (or calls `tried` itself), answered or not.
   */
  #loop(round: (tried: () => void) => Promise<number | 'backoff'>, failed: (error: unknown) => void): Promise<void> {
    let first: () => void = () => {};
    const tried = new Promise<void>((resolve) => (first = resolve));
    void (async () => {
      let failures = 0;
      while (!this.#closed) {
        let rest: number;
        try {
          const next = await round(first);
          if (next === 'backoff') rest = this.#backoff(failures++);
          else {
            failures = 0;
            rest = next;
          }
        } catch (error) {
          if (this.#closed) break;
          failed(error);
          rest = this.#backoff(failures++);
        }
        first();
        if (rest > 0) await this.#sleep(rest);
      }
      first();
    })();
    return tried;
  }

  /** Reads every record and applies the difference to the table; the watch resumes after it. */
  async #read(): Promise<void> {
    const prefix = this.#registry.prefix;
    const answer = await this.#gateway.call('/v3/kv/range', { key: encode(prefix), range_end: encode(prefixEnd(prefix)) }, this.#timeout);
    if (this.#closed) return;
    const seen = new Set<string>();
    for (const kv of Array.isArray(answer.kvs) ? answer.kvs : []) {
      const key = decode((kv as Record<string, unknown>)?.key);
      if (key === undefined) continue;
      seen.add(key);
      this.#apply(key, (kv as Record<string, unknown>).value ?? '');
    }
    for (const key of [...this.#keys.keys(), ...this.#ignored.keys()]) if (!seen.has(key)) this.#apply(key, undefined);
    this.#revision = revisionOf(answer.header) ?? this.#revision;
    this.#mustRead = false;
    this.#fine();
  }

  /**
   * One watch stream from the revision after the table's. True when it was opened (a healthy
   * etcd), false when etcd ended it at once; throws when it could not be opened.
   */
  async #watch(): Promise<boolean> {
    const prefix = this.#registry.prefix;
    const stream = new AbortController();
    const stop = (): void => stream.abort();
    this.#stop.signal.addEventListener('abort', stop, { once: true });
    let opened = false;
    try {
      await this.#gateway.watch(
        { key: encode(prefix), range_end: encode(prefixEnd(prefix)), start_revision: String(this.#revision + 1) },
        stream.signal,
        this.#timeout,
        (result) => {
          if (result.created === true) {
            opened = true;
            this.#fine();
          }
          if (result.canceled === true) {
            const compacted = revisionOf(result.compact_revision);
            if (compacted !== undefined && compacted > 0) {
              // The revisions the table missed are gone: read everything again, apply the difference.
              this.#settings.logger.info(`express-micro: the etcd watch fell behind a compaction (revision ${compacted}); reading the registry again`);
              this.#mustRead = true;
            }
            stream.abort();
            return;
          }
          for (const event of Array.isArray(result.events) ? result.events : []) {
            const { type, kv } = (event ?? {}) as Record<string, unknown>;
            const record = (kv ?? {}) as Record<string, unknown>;
            const key = decode(record.key);
            if (key !== undefined) this.#apply(key, type === 'DELETE' ? undefined : (record.value ?? ''));
            const modified = revisionOf(record.mod_revision);
            if (modified !== undefined && modified > this.#revision) this.#revision = modified;
          }
        },
      );
    } finally {
      this.#stop.signal.removeEventListener('abort', stop);
    }
    return opened;
  }

  /** Applies one record (`value` base64, or undefined for a deletion) to the table. */
  #apply(key: string, value: unknown): void {
    const self = this.#member.require();
    if (value === undefined) {
      // Its own record gone while its lease lives: a sibling worker sharing this id revoked its
      // lease on close, or crashed and its lease expired (docs/ARCHITECTURE.md, "Several workers on
      // one port"), or someone deleted it. Put it back, as a member refutes its own death.
      if (key === this.key && this.#lease !== undefined && !this.#closed) void this.#put(this.#lease).catch(() => {});
      this.#ignored.delete(key);
      const id = this.#keys.get(key);
      this.#keys.delete(key);
      if (id !== undefined && id !== self.id) this.table.remove(id);
      return;
    }
    const descriptor = this.#parse(key, value);
    if (typeof descriptor === 'string') {
      // Logged once per key and reason: a record rewritten with the same fault stays quiet.
      if (this.#ignored.get(key) !== descriptor) {
        this.#ignored.set(key, descriptor);
        this.#settings.logger.warn(`express-micro: ignored the etcd record ${JSON.stringify(key.slice(0, 300))}: ${descriptor}`);
      }
      const id = this.#keys.get(key);
      this.#keys.delete(key);
      if (id !== undefined && id !== self.id) this.table.remove(id);
      return;
    }
    this.#ignored.delete(key);
    if (descriptor.id === self.id) return;
    this.#keys.set(key, descriptor.id);
    const known = this.table.get(descriptor.id);
    if (known && known.url !== descriptor.url) this.table.remove(known.id);
    this.table.upsert(descriptor, false);
  }

  /** The descriptor a record holds, checked as `/_discovery` checks one, or why it is refused. */
  #parse(key: string, value: unknown): Descriptor | string {
    const self = this.#member.require();
    const rest = key.slice(this.#registry.prefix.length);
    const slash = rest.indexOf('/');
    const name = rest.slice(0, slash);
    const id = rest.slice(slash + 1);
    if (!key.startsWith(this.#registry.prefix) || slash === -1 || !NAME.test(name) || !ID.test(id)) return `its key is not <prefix><service>/<id>`;
    if (typeof value !== 'string' || value.length > (MAX_RECORD_BYTES * 4) / 3 + 4) return `it is over ${MAX_RECORD_BYTES} bytes`;
    const text = decode(value);
    if (text === undefined) return 'it is not UTF-8 text';
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return 'it is not JSON';
    }
    const descriptor = parseDescriptor(parsed);
    if (typeof descriptor === 'string') return descriptor;
    if (descriptor.name !== name || descriptor.id !== id) return `its descriptor (${descriptor.name}/${descriptor.id}) does not match its key`;
    if (descriptor.id !== self.id && descriptor.url === self.url) return `it claims this instance's URL ${self.url}`;
    const known = this.table.get(descriptor.id);
    if (known && known.name !== descriptor.name) return `its id is already ${known.name}'s`;
    return descriptor;
  }

  // ---- state, backoff, timers -----------------------------------------------------------------

  /** etcd answered: said once when it had not been answering. */
  #fine(): void {
    if (this.#reachable === false) this.#settings.logger.info(`express-micro: etcd answers again (at ${this.#gateway.endpoint}); ${this.#settings.name} is registered and watching`);
    this.#reachable = true;
    this.#refusedCredentials = false;
  }

  /** etcd could not be used: said once per change of state, never per retry. */
  #trouble(what: string, error: unknown): void {
    if (error instanceof EtcdCredentialsError) {
      if (!this.#refusedCredentials) {
        this.#refusedCredentials = true;
        this.#settings.logger.error(`express-micro: ${error.message}; ${this.#settings.name} cannot register or read the registry until registry.username and registry.password are right`);
      }
      this.#reachable = false;
      return;
    }
    if (this.#reachable === false) {
      this.#settings.logger.debug?.(`express-micro: etcd: ${what} failed: ${String((error as Error)?.message ?? error)}`);
      return;
    }
    this.#reachable = false;
    const others = this.table.alive - 1;
    this.#settings.logger.warn(
      `express-micro: etcd is unreachable (${what} at ${this.#gateway.endpoint} failed: ${String((error as Error)?.message ?? error)}); ` +
        `keeping the last known ${others} instance${others === 1 ? '' : 's'} and retrying`,
    );
  }

  /** Full-jitter exponential backoff, capped well inside a lease's life. */
  #backoff(failures: number): number {
    const cap = Math.min(2000, (this.#registry.ttl * 1000) / 3);
    return Math.max(50, Math.random() * Math.min(cap, 100 * 2 ** Math.min(failures, 10)));
  }

  /** Waits without holding the process open; close() ends every wait at once. */
  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        resolve,
        timer: after(ms, () => {
          this.#timers.delete(entry);
          resolve();
        }),
      };
      this.#timers.add(entry);
    });
  }
}

/** A revision from the gateway (int64 as a decimal string), or undefined. */
function revisionOf(value: unknown): number | undefined {
  const raw = typeof value === 'object' && value !== null ? (value as Record<string, unknown>).revision : value;
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  const revision = Number(raw);
  return Number.isSafeInteger(revision) && revision >= 0 ? revision : undefined;
}
