import type { RouteDescriptor } from '../routes/index.ts';
import { sha256Hex } from '../runtime/index.ts';
import type { Emitter } from './emitter.ts';
import { NO_METADATA } from './metadata.ts';
import { serviceKey } from './service-name.ts';
import type { PublishedSubscription } from '../events/types.ts';
import type { Descriptor, InstanceInfo, InstanceStatus, MemberState } from './types.ts';

/** The events of an instance that subscribes to none: shared, frozen. */
const NO_EVENTS: readonly PublishedSubscription[] = Object.freeze([]);

/** One known instance. Mutable: the table changes it in place. */
export interface Instance {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly self: boolean;
  /**
   * The id calls to it are signed for: its own, until a process restarted at its address proves
   * another (a signed 401) before the table hears of it.
   */
  audience: string;
  routes: RouteDescriptor[];
  /** The events it subscribes to (published with its routes, under the same `rev`). */
  events: readonly PublishedSubscription[];
  rev: string;
  /** Its labels, from its first descriptor: frozen, without a prototype ({@link NO_METADATA} when none). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Its zone, from its first descriptor. */
  readonly zone: string | undefined;
  /** Its incarnation as last heard: news about it with a lower one is old news. */
  incarnation: number;
  status: InstanceStatus;
  /** UP but suspected (here or by gossip), or unreachable from this process's calls. */
  suspect: boolean;
  lastSeen: number;
  downSince: number;
  /** Until when calls leave it out of the rotation (outlier ejection); 0 when they do not. */
  ejectedUntil: number;
  /** The round trip of the last direct probe from this process that it acknowledged, in ms. */
  roundTripMs: number | undefined;
}

/**
 * The instances of one service. `version` changes whenever its instances, their status or
 * their routes change, so the client rebuilds its route index only then, never per call.
 */
export interface ServiceEntry {
  readonly name: string;
  readonly instances: Instance[];
  /**
   * The instances calls go to, rebuilt on change: the UP ones neither suspected nor ejected; when
   * there are none, the ejected ones that are not suspected (a panic threshold, as Envoy's); when
   * there are none of those either, the suspected ones. Never none while one is UP.
   */
  up: Instance[];
  cursor: number;
  version: number;
}

/**
 * The membership table: instances by id, grouped by service key. Maps only, never objects keyed
 * by names from the wire. Emits `discovered`/`up`/`down`/`removed` once per change.
 */
export class MembershipTable {
  readonly #byId = new Map<string, Instance>();
  readonly #byUrl = new Map<string, Instance>();
  readonly #services = new Map<string, ServiceEntry>();
  readonly #events: Emitter;
  #digest: string | undefined;
  #alive = 0;
  #down = 0;
  #revision = 0;

  constructor(events: Emitter) {
    this.#events = events;
  }

  /** The service whose key `serviceKey(name)` is `key`, if any instance of it is known. */
  service(key: string): ServiceEntry | undefined {
    return this.#services.get(key);
  }

  /** Every service name known. */
  serviceNames(): string[] {
    return [...this.#services.values()].map((entry) => entry.name);
  }

  get(id: string): Instance | undefined {
    return this.#byId.get(id);
  }

  byUrl(url: string): Instance | undefined {
    return this.#byUrl.get(url);
  }

  instances(): IterableIterator<Instance> {
    return this.#byId.values();
  }

  /** Every member's state for a push-pull sync, this instance included. */
  members(): MemberState[] {
    const members: MemberState[] = [];
    for (const instance of this.#byId.values()) members.push(state(instance));
    return members;
  }

  /** How many instances are UP, this one included: the cluster size for timeouts and fan-out. */
  get alive(): number {
    return this.#alive;
  }

  /** Changes whenever an instance is added, removed, or changes status or routes. */
  get revision(): number {
    return this.#revision;
  }

  /** How many instances are DOWN (and not forgotten yet). */
  get down(): number {
    return this.#down;
  }

  /**
   * A short hash of the UP ids: two instances with the same view of the cluster have the same
   * digest, so a ping answer tells the pinger whether a membership exchange is worth it.
   */
  digest(): string {
    if (this.#digest === undefined) {
      const ids: string[] = [];
      for (const instance of this.#byId.values()) if (instance.status === 'UP') ids.push(instance.id);
      this.#digest = sha256Hex(ids.sort().join(',')).slice(0, 16);
    }
    return this.#digest;
  }

  /**
   * Adds an instance, UP, or updates a known one's routes and incarnation (never its status: that
   * is membership's to decide). Another instance at the same URL is an earlier start of the same
   * process, and is dropped.
   */
  upsert(descriptor: Descriptor, self = false, now: number = Date.now()): Instance {
    const existing = this.#byId.get(descriptor.id);
    if (existing) {
      if (descriptor.incarnation > existing.incarnation) existing.incarnation = descriptor.incarnation;
      if (existing.rev !== descriptor.rev) {
        existing.routes = descriptor.routes;
        existing.events = descriptor.events ?? NO_EVENTS;
        existing.rev = descriptor.rev;
        this.#changed(existing);
      }
      if (existing.status === 'UP') existing.lastSeen = now;
      return existing;
    }
    const stale = this.byUrl(descriptor.url);
    if (stale && !stale.self) this.remove(stale.id);
    const instance: Instance = {
      id: descriptor.id,
      name: descriptor.name,
      url: descriptor.url,
      self,
      audience: descriptor.id,
      routes: descriptor.routes,
      events: descriptor.events ?? NO_EVENTS,
      rev: descriptor.rev,
      // Checked on receipt (validate.ts) or built from the options: already frozen and prototype-free.
      metadata: descriptor.metadata ?? NO_METADATA,
      zone: descriptor.zone,
      incarnation: descriptor.incarnation,
      status: 'UP',
      suspect: false,
      lastSeen: now,
      downSince: 0,
      ejectedUntil: 0,
      roundTripMs: undefined,
    };
    this.#byId.set(instance.id, instance);
    this.#byUrl.set(instance.url, instance);
    this.#alive++;
    const key = serviceKey(instance.name);
    let entry = this.#services.get(key);
    if (!entry) {
      entry = { name: instance.name, instances: [], up: [], cursor: 0, version: 0 };
      this.#services.set(key, entry);
    }
    entry.instances.push(instance);
    this.#changed(instance);
    // Events tell about other instances: this one is in the table only so it can call itself.
    if (!self) {
      this.#events.emit('discovered', info(instance));
      this.#events.emit('up', info(instance));
    }
    return instance;
  }

  /** Brings a DOWN instance back UP (it refuted its death), or clears a suspicion; `up` fires only for the first. */
  markUp(instance: Instance, now: number = Date.now()): void {
    instance.lastSeen = now;
    if (instance.status === 'UP') {
      if (instance.suspect) {
        instance.suspect = false;
        this.#changed(instance);
      }
      return;
    }
    instance.status = 'UP';
    instance.suspect = false;
    instance.downSince = 0;
    this.#alive++;
    this.#down--;
    this.#changed(instance);
    this.#events.emit('up', info(instance));
  }

  /** Marks an UP instance suspected: calls go to it only when nothing else is left. */
  markSuspect(instance: Instance): void {
    if (instance.status !== 'UP' || instance.suspect || instance.self) return;
    instance.suspect = true;
    this.#changed(instance);
    this.#events.emit('suspect', info(instance));
  }

  /** Marks an instance DOWN: its death is confirmed. `down` fires once. */
  markDown(instance: Instance, now: number = Date.now()): void {
    if (instance.status === 'DOWN' || instance.self) return;
    instance.status = 'DOWN';
    instance.suspect = false;
    instance.downSince = now;
    this.#alive--;
    this.#down++;
    this.#changed(instance);
    this.#events.emit('down', info(instance));
  }

  /** Takes an instance out of the call rotation until `until` (ms since the epoch). */
  eject(instance: Instance, until: number): void {
    if (instance.self || !this.#byId.has(instance.id)) return;
    const announce = instance.ejectedUntil === 0;
    instance.ejectedUntil = until;
    if (!announce) return;
    this.#changed(instance);
    this.#events.emit('ejected', info(instance));
  }

  /** Puts an ejected instance back into the call rotation. */
  restore(instance: Instance): void {
    if (instance.ejectedUntil === 0) return;
    instance.ejectedUntil = 0;
    if (!this.#byId.has(instance.id)) return;
    this.#changed(instance);
    this.#events.emit('restored', info(instance));
  }

  /** Forgets an instance (it left, was replaced, or stayed DOWN too long). */
  remove(id: string): void {
    const instance = this.#byId.get(id);
    if (!instance || instance.self) return;
    this.markDown(instance);
    this.#byId.delete(id);
    if (this.#byUrl.get(instance.url) === instance) this.#byUrl.delete(instance.url);
    this.#down--;
    const key = serviceKey(instance.name);
    const entry = this.#services.get(key);
    if (entry) {
      entry.instances.splice(entry.instances.indexOf(instance), 1);
      if (entry.instances.length === 0) this.#services.delete(key);
      else this.#changed(instance);
    }
    this.#digest = undefined;
    this.#revision++;
    this.#events.emit('removed', info(instance));
  }

  #changed(instance: Instance): void {
    this.#digest = undefined;
    this.#revision++;
    const entry = this.#services.get(serviceKey(instance.name));
    if (!entry) return;
    const up = entry.instances.filter((candidate) => candidate.status === 'UP');
    const trusted = up.filter((candidate) => !candidate.suspect);
    const usable = trusted.filter((candidate) => candidate.ejectedUntil === 0);
    entry.up = usable.length > 0 ? usable : trusted.length > 0 ? trusted : up;
    entry.version++;
  }
}

/** A plain, detached snapshot of an instance for events and `peers()`. */
export function info(instance: Instance): InstanceInfo {
  return {
    service: instance.name,
    id: instance.id,
    url: instance.url,
    status: instance.status,
    suspect: instance.suspect,
    incarnation: instance.incarnation,
    routes: instance.routes,
    events: instance.events,
    metadata: instance.metadata,
    ...(instance.zone === undefined ? {} : { zone: instance.zone }),
    self: instance.self,
    lastSeen: instance.lastSeen,
    ejected: instance.ejectedUntil !== 0,
    ...(instance.roundTripMs === undefined ? {} : { roundTripMs: instance.roundTripMs }),
  };
}

/** An instance's state as gossiped. */
export function state(instance: Instance): MemberState {
  const status = instance.status === 'DOWN' ? 'dead' : instance.suspect && !instance.self ? 'suspect' : 'alive';
  return { name: instance.name, id: instance.id, url: instance.url, incarnation: instance.incarnation, status, rev: instance.rev };
}
