import type { PublishedSubscription } from '../events/types.ts';
import type { RouteDescriptor } from '../routes/index.ts';
import { sha256Hex } from '../runtime/index.ts';
import type { MembershipTable, Instance } from './table.ts';
import { PROTOCOL_VERSION, type Descriptor } from './types.ts';

/** How long this instance's own routes are cached before they are read from the app again. */
const ROUTES_TTL = 1000;

/**
 * This instance as a member of the table, the part gossip (`Cluster`) and the etcd registry
 * (`EtcdMembership`) share (docs/ARCHITECTURE.md, "The membership seam"): its id, its own row in
 * the table, its routes read from the app at most once a second, and the incarnation that orders
 * news about it. The sources differ only in how a change reaches the others.
 */
export class LocalMember {
  readonly #name: string;
  readonly #table: MembershipTable;
  readonly #readRoutes: () => RouteDescriptor[];
  readonly #now: () => number;
  readonly #identity: Identity;
  readonly #subscriptions: (() => PublishedSubscription[]) | undefined;
  #id: string;
  #self: Instance | undefined;
  #incarnation = 0;
  #routesReadAt = 0;

  constructor(name: string, id: string, table: MembershipTable, readRoutes: () => RouteDescriptor[], now: () => number, identity: Identity = {}) {
    this.#name = name;
    this.#identity = identityFields(identity);
    this.#subscriptions = identity.subscriptions;
    this.#id = id;
    this.#table = table;
    this.#readRoutes = readRoutes;
    this.#now = now;
  }

  /** This instance's id: random, or the one `start` was given. */
  get id(): string {
    return this.#id;
  }

  /** This instance's row in the table; undefined before `start`. */
  get instance(): Instance | undefined {
    return this.#self;
  }

  /** The incarnation news about this instance carries. */
  get incarnation(): number {
    return this.#incarnation;
  }

  /**
   * Puts this instance in the table, its routes read from the app; `id` replaces the random id
   * for processes that share a URL and so must share an id. Undefined when it had started already.
   */
  start(url: string, id?: string): Instance | undefined {
    if (this.#self) return undefined;
    if (id !== undefined) this.#id = id;
    const routes = this.#readRoutes();
    const events = this.#events();
    const now = this.#now();
    this.#routesReadAt = now;
    this.#self = this.#table.upsert({ protocol: PROTOCOL_VERSION, name: this.#name, id: this.#id, url, routes, rev: revision(routes, events), incarnation: 0, ...this.#identity, ...eventsField(events) }, true, now);
    return this.#self;
  }

  /** This instance's row; throws before `start`. */
  require(): Instance {
    if (!this.#self) throw new Error('express-micro: discovery used before the instance started');
    return this.#self;
  }

  /** This instance's descriptor, with its routes read again when the cached copy is old. */
  descriptor(): Descriptor {
    const self = this.require();
    this.refreshRoutes(false);
    return { protocol: PROTOCOL_VERSION, name: self.name, id: self.id, url: self.url, routes: self.routes, rev: self.rev, incarnation: this.#incarnation, ...this.#identity, ...eventsField(self.events) };
  }

  /**
   * Reads this app's routes again (at most once a second unless `force`). True when they changed:
   * the row then has them under a new incarnation, and the caller publishes the news.
   */
  refreshRoutes(force: boolean): boolean {
    const self = this.#self;
    const now = this.#now();
    if (!self || (!force && now - this.#routesReadAt < ROUTES_TTL)) return false;
    this.#routesReadAt = now;
    const routes = this.#readRoutes();
    const events = this.#events();
    const rev = revision(routes, events);
    if (rev === self.rev) return false;
    // A new incarnation orders the news: members that hear it fetch the routes.
    this.#incarnation++;
    this.#table.upsert({ protocol: PROTOCOL_VERSION, name: self.name, id: self.id, url: self.url, routes, rev, incarnation: this.#incarnation, ...this.#identity, ...eventsField(events) }, true, now);
    return true;
  }

  #events(): PublishedSubscription[] {
    return this.#subscriptions?.() ?? [];
  }

  /**
   * News that this instance is suspect or dead at `incarnation`: refuted by an incarnation above
   * it (SWIM). False when the news is older than what this instance already said.
   */
  refute(incarnation: number): boolean {
    if (incarnation < this.#incarnation) return false;
    this.#incarnation = incarnation + 1;
    this.require().incarnation = this.#incarnation;
    return true;
  }
}

/**
 * What this instance publishes about itself besides its routes: its labels and zone (options
 * `metadata` and `zone`), fixed for the life of the process.
 */
export interface Identity {
  metadata?: Readonly<Record<string, string>>;
  zone?: string | undefined;
  /** The events it subscribes to as they stand now (they may change while it runs, like its routes). */
  subscriptions?: () => PublishedSubscription[];
}

/** The descriptor's identity fields: each left out when empty, so the wire stays as before for an instance without them. */
function identityFields(identity: Identity): Omit<Identity, 'subscriptions'> {
  const fields: Omit<Identity, 'subscriptions'> = {};
  if (identity.metadata !== undefined && Object.keys(identity.metadata).length > 0) fields.metadata = identity.metadata;
  if (identity.zone !== undefined) fields.zone = identity.zone;
  return fields;
}

/** The descriptor's `events` field: left out when there are none, so the wire stays as before. */
function eventsField(events: readonly PublishedSubscription[]): { events?: PublishedSubscription[] } {
  return events.length === 0 ? {} : { events: [...events] };
}

/**
 * A short digest of the routes and subscriptions: members compare it to know whether to fetch
 * them again. Without subscriptions it is the digest of the routes alone, as before events.
 */
function revision(routes: RouteDescriptor[], events: readonly PublishedSubscription[]): string {
  return sha256Hex(events.length === 0 ? JSON.stringify(routes) : JSON.stringify([routes, events])).slice(0, 16);
}
