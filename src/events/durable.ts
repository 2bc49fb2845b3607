import type { Logger } from '../options.ts';
import type { EventMessage } from './types.ts';

/**
 * The seam a durable engine plugs into (Redis Streams: src/events/redis/). The plugin publishes
 * with it and hands it each (event, group) this instance subscribes to; it owns acknowledging,
 * retrying, dead-lettering and claiming a crashed consumer's events.
 */
export interface DurableEvents {
  /** Stores the event for every group that subscribes to it; resolves with the entry id, rejects with an `EventError` when the engine cannot take it. */
  publish(message: EventMessage): Promise<string>;
  /**
   * Starts consuming `event` for `group` as this instance's consumer (once per pair). `handle`
   * runs the handlers; resolved: acknowledged; rejected: retried with backoff up to
   * `maxAttempts`, then moved to the dead-letter stream.
   */
  consume(event: string, group: string, handle: (message: EventMessage, attempt: number) => Promise<void>): void;
  /** Per consumed (event, group): entries delivered but not acknowledged, and entries not yet delivered to the group (its lag). */
  backlog(): Promise<DurableBacklog[]>;
  /** Stops taking new events, waits for those in flight (acknowledged or left pending), closes the connection. */
  close(): Promise<void>;
}

/** One consumer group's backlog, for the metrics. */
export interface DurableBacklog {
  event: string;
  group: string;
  pending: number;
  lag: number;
}

/** What the plugin gives the engine: counters to bump and a logger. */
export interface DurableContext {
  /** This instance's id: its consumer name in every group. */
  consumer: string;
  logger: Logger;
  /** Called for each handler run that failed and will be retried. */
  retried(event: string, group: string): void;
  /** Called for each event moved to the dead-letter stream. */
  deadLettered(event: string, group: string): void;
  /** Called for each entry claimed from a consumer that stopped acknowledging (crashed). */
  claimed(event: string, group: string): void;
}

/** `events: { type: 'redis', … }` after validation, defaults filled in. */
export interface RedisEventSettings {
  type: 'redis';
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. */
  url: string;
  /** Key prefix of the streams: `<prefix>:<event>` and `<prefix>:<event>:dead`. Default `express-micro`. */
  prefix: string;
  /** Handler runs per event before it is dead-lettered. Default 5. */
  maxAttempts: number;
  /** Events handled at once by this instance, over all its subscriptions. Default 16. */
  maxInFlight: number;
  /** How long (ms) an entry stays pending with a silent consumer before another claims it. Default 30 000. */
  claimIdle: number;
  /** Approximate cap on each stream's length (XADD MAXLEN ~). Default 100 000. */
  maxLength: number;
}
