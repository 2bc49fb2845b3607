import type { RouteDescriptor } from '../routes/index.ts';

/** Whether an instance answers its health checks. */
export type InstanceStatus = 'UP' | 'DOWN';

/** A snapshot of one known instance, as `peers()` lists it and events carry it. */
export interface InstanceInfo {
  /** The service name the instance registered under (`user-service`). */
  service: string;
  /** The instance's id, new on every start. */
  id: string;
  /** Where it is reached: `http://host:port`. */
  url: string;
  /** `UP` while it answers its health checks, `DOWN` after one failed. */
  status: InstanceStatus;
  /** The routes it publishes. */
  routes: RouteDescriptor[];
  /** True for the instance this process runs. */
  self: boolean;
  /** When it last answered, in ms since the epoch. */
  lastSeen: number;
  /**
   * True while this process keeps it out of its call rotation because its calls kept failing
   * (outlier ejection: 5xx answers, connection failures, timeouts), though it answers pings.
   */
  ejected: boolean;
}

/**
 * The events a handle emits, each with the instance that changed: `up`, `down`, `discovered`,
 * `removed` from membership; `ejected` and `restored` when calls take an instance out of this
 * process's rotation and put it back.
 */
export type DiscoveryEvent = 'up' | 'down' | 'discovered' | 'removed' | 'ejected' | 'restored';

/** The wire protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;

/** An instance describing itself on the wire. */
export interface Descriptor {
  protocol: number;
  name: string;
  id: string;
  url: string;
  routes: RouteDescriptor[];
  /** Changes whenever the instance's routes change, so peers know to fetch them again. */
  rev: string;
}

/** A member as gossiped: enough to probe it, no more. */
export interface Member {
  name: string;
  id: string;
  url: string;
}

/** The body of `POST /_discovery/register`, and of its answer. */
export interface RegisterMessage {
  self: Descriptor;
  members: Member[];
}

/** The body of `POST /_discovery/ping`. */
export interface PingMessage {
  id: string;
  url: string;
  digest: string;
}

/** The answer to a ping. */
export interface PingAnswer {
  id: string;
  name: string;
  rev: string;
  digest: string;
}
