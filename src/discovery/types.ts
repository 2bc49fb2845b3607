import type { PublishedSubscription } from '../events/types.ts';
import type { RouteDescriptor } from '../routes/index.ts';

/** Whether an instance is a live member (`UP`, suspected or not) or a confirmed dead one (`DOWN`). */
export type InstanceStatus = 'UP' | 'DOWN';

/** A snapshot of one known instance, as `peers()` lists it and events carry it. */
export interface InstanceInfo {
  /** The service name the instance registered under (`user-service`). */
  service: string;
  /** The instance's id, new on every start. */
  id: string;
  /** Where it is reached: `http://host:port`. */
  url: string;
  /**
   * `UP` while it is a live member; `DOWN` once its death is confirmed: it did not answer a
   * probe, nor the probes of other members on its behalf, nor refute the suspicion in time.
   */
  status: InstanceStatus;
  /**
   * True while it is suspected (a probe went unanswered, here or elsewhere) and has not refuted it
   * yet, or while a call here could not connect to it: calls go to it only when no other instance
   * is left. Always false when `DOWN`.
   */
  suspect: boolean;
  /** Its incarnation: raised by the instance itself to refute a suspicion or announce new routes. */
  incarnation: number;
  /** The routes it publishes. */
  routes: RouteDescriptor[];
  /** The events it subscribes to, each with its group (`micro.subscribe`); empty when none. */
  events: readonly PublishedSubscription[];
  /**
   * Its labels (option `metadata`: `version`, `track`, …), fixed for the life of its process.
   * Frozen and without a prototype; empty when it has none.
   */
  metadata: Readonly<Record<string, string>>;
  /** Its zone (option `zone` or env `EXPRESS_MICRO_ZONE`); absent when it has none. */
  zone?: string;
  /** True for the instance this process runs. */
  self: boolean;
  /** When it last answered, in ms since the epoch. */
  lastSeen: number;
  /**
   * True while this process keeps it out of its call rotation because its calls kept failing
   * (outlier ejection: 5xx answers, connection failures, timeouts), though it answers pings.
   */
  ejected: boolean;
  /**
   * The round trip of the last direct probe this process sent it that it acknowledged, in
   * milliseconds (sub-millisecond precision); absent until one has. Never set on this process's
   * own instance.
   */
  roundTripMs?: number;
}

/**
 * The events a handle emits, each with the instance that changed: `up`, `down` (a confirmed death,
 * once), `discovered`, `removed` from membership; `suspect` when an instance is suspected (and
 * `up` again when it refutes it); `ejected` and `restored` when calls take an instance out of
 * this process's rotation and put it back.
 */
export type DiscoveryEvent = 'up' | 'down' | 'suspect' | 'discovered' | 'removed' | 'ejected' | 'restored';

/**
 * The wire protocol version this build speaks. Version 2 is SWIM membership (probes, indirect
 * probes, suspicion, incarnations, gossip); an instance refuses a descriptor of another version,
 * and both sides log it once (docs/ARCHITECTURE.md, "Protocol reference").
 */
export const PROTOCOL_VERSION = 2;

/** An instance describing itself on the wire. */
export interface Descriptor {
  protocol: number;
  name: string;
  id: string;
  url: string;
  routes: RouteDescriptor[];
  /** Changes whenever the instance's routes change, so peers know to fetch them again. */
  rev: string;
  /** Raised only by the instance itself: to refute a suspicion, or to announce new routes. */
  incarnation: number;
  /**
   * Its labels; absent when it has none. Part of its identity: fixed for the life of the process
   * (a change takes a restart, hence a new id), so a known id's labels are never replaced.
   */
  metadata?: Readonly<Record<string, string>>;
  /** Its zone; absent when it has none. Fixed like `metadata`. */
  zone?: string;
  /** The events it subscribes to, by group (`micro.subscribe`); absent when none. Covered by `rev`. */
  events?: PublishedSubscription[];
}

/**
 * What one instance believes about a member. `alive` and `suspect` members are UP (a suspect one
 * is used for calls only when nothing else is left); `dead` is DOWN; `left` said goodbye.
 */
export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/** A member's state as gossiped: enough to probe it and to order news about it. */
export interface MemberState {
  name: string;
  id: string;
  url: string;
  incarnation: number;
  status: MemberStatus;
  /** The revision of its routes: a new one sends the receiver to fetch them (`describe`). */
  rev: string;
  /** For `suspect`: the id of the member that suspects it (independent suspicions shorten the timeout). */
  from?: string;
}

/** The body of `POST /_discovery/register` (join and push-pull sync), and of its answer. */
export interface RegisterMessage {
  self: Descriptor;
  members: MemberState[];
}

/** The body of `POST /_discovery/describe`, and of its answer: two instances introduce themselves. */
export interface DescribeMessage {
  self: Descriptor;
}

/** The body of `POST /_discovery/ping`: a probe, with news riding on it. */
export interface PingMessage {
  id: string;
  url: string;
  /** The id the sender means to probe: another process answering at that URL says so. */
  target?: string;
  updates: MemberState[];
}

/** The answer to a ping (the acknowledgement), with news riding on it. */
export interface PingAnswer {
  id: string;
  name: string;
  rev: string;
  incarnation: number;
  /** A short hash of the answering instance's alive members (kept from protocol 1 for `curl`). */
  digest: string;
  updates: MemberState[];
}

/** The body of `POST /_discovery/ping-req`: "probe this member for me". */
export interface PingRequestMessage {
  id: string;
  url: string;
  target: { id: string; url: string };
  /** How long the helper may wait for the target's answer, in ms. */
  timeout: number;
  updates: MemberState[];
}

/** The answer to a ping-req: whether the target acknowledged the helper's probe in time. */
export interface PingRequestAnswer {
  ack: boolean;
  updates: MemberState[];
}

/** The body of `POST /_discovery/gossip` and of its answer: news only. */
export interface GossipMessage {
  id: string;
  updates: MemberState[];
}
