/**
 * The durable events transport: `events: { type: 'redis', url }` puts `emit` on Redis Streams
 * (docs/events-redis.md). One stream per event (`<prefix>:<event>`, XADD MAXLEN ~ maxLength), one
 * consumer group per subscriber group, one consumer per instance (its id): at least once, an
 * entry acknowledged once its handlers resolved, retried with backoff, dead-lettered after
 * `maxAttempts`, claimed from a crashed consumer after `claimIdle` ms.
 *
 * The Redis client (`redis`, an optional peer dependency) is loaded here, on first use, through
 * src/runtime/redis/: nothing is loaded for an app on the cluster transport.
 */
import { EventError } from '../../errors/event-error.ts';
import { OptionError } from '../../errors/option-error.ts';
import { connectRedis, RedisClientMissingError, type RedisConnection, type RedisFields } from '../../runtime/redis/index.ts';
import { after } from '../../runtime/index.ts';
import type { DurableBacklog, DurableContext, DurableEvents, RedisEventSettings } from '../durable.ts';
import type { EventMessage } from '../types.ts';
import { reconnectDelay } from './backoff.ts';
import { StreamConsumer, type ConsumerShared, type DeliveryHandler } from './consumer.ts';
import { toFields } from './fields.ts';
import { redisAddress, streamKey } from './keys.ts';
import { Outage } from './outage.ts';
import { Slots } from './slots.ts';

export { deadLetterKey, streamKey } from './keys.ts';

/** How long `publish` waits for the very first connection before it calls Redis unreachable (ms). */
const FIRST_CONNECT_WAIT = 5000;

/**
 * The durable engine for `events: { type: 'redis', … }`. Returns at once; the connection comes
 * up in the background. `publish` rejects with {@link EventError} (`reason: 'unavailable'`) while
 * Redis is unreachable (nothing is queued in memory), and with an {@link OptionError} naming
 * `npm install redis` when the client is not installed.
 */
export function redisEvents(settings: RedisEventSettings, context: DurableContext): DurableEvents {
  return new RedisEvents(settings, context);
}

class RedisEvents implements DurableEvents {
  readonly #settings: RedisEventSettings;
  readonly #context: DurableContext;
  readonly #where: string;
  readonly #outage: Outage;
  readonly #slots: Slots;
  readonly #connection: Promise<RedisConnection>;
  /** Resolved once the first connection attempt ended either way (or after {@link FIRST_CONNECT_WAIT}). */
  readonly #settled: Promise<void>;
  readonly #consumers = new Map<string, StreamConsumer>();
  readonly #readers = new Set<RedisConnection>();
  /** Consumers being started (waiting for the connection), by event. */
  readonly #starting = new Set<{ event: string; promise: Promise<void> }>();
  #closing: Promise<void> | undefined;

  constructor(settings: RedisEventSettings, context: DurableContext) {
    this.#settings = settings;
    this.#context = context;
    this.#where = redisAddress(settings.url);
    this.#outage = new Outage(context.logger, this.#where);
    this.#slots = new Slots(settings.maxInFlight);
    this.#connection = connectRedis({ url: settings.url, reconnectDelay: (retries) => reconnectDelay(retries) }).catch((error: unknown) => {
      if (error instanceof RedisClientMissingError) {
        throw new OptionError('events', `is { type: 'redis' }, which needs the Redis client: npm install redis`, error);
      }
      throw error;
    });
    this.#settled = this.#connection.then(
      (connection) =>
        new Promise<void>((resolve) => {
          this.#outage.watch(connection);
          const timer = after(FIRST_CONNECT_WAIT, resolve);
          connection.onStatus(() => {
            timer.stop();
            resolve();
          });
          if (connection.ready) resolve();
        }),
      (error: unknown) => {
        context.logger.error(`express-micro: durable events are off: ${(error as Error).message}`);
      },
    );
  }

  async publish(message: EventMessage): Promise<string> {
    if (this.#closing) throw new EventError(message.event, 'unavailable', 'could not be stored: the durable events engine is closed');
    let fields: RedisFields;
    try {
      fields = toFields(message);
    } catch (error) {
      throw new EventError(message.event, 'invalid', `has a payload JSON cannot carry (${(error as Error).message})`, error);
    }
    const connection = await this.#connection;
    await this.#settled;
    await this.#groupsOf(message.event);
    if (!connection.ready) throw new EventError(message.event, 'unavailable', `could not be stored: Redis at ${this.#where} is unreachable`);
    try {
      return await connection.xadd(streamKey(this.#settings.prefix, message.event), this.#settings.maxLength, fields);
    } catch (error) {
      throw new EventError(message.event, 'unavailable', `could not be stored in Redis at ${this.#where}: ${(error as Error).message}`, error);
    }
  }

  /**
   * Waits (at most {@link FIRST_CONNECT_WAIT}) for the groups this process is creating on the
   * event's stream: a group starts at the entries added after it exists, so an event emitted
   * right after `subscribe` would otherwise pass it by.
   */
  async #groupsOf(event: string): Promise<void> {
    const waiting: Promise<unknown>[] = [];
    for (const start of this.#starting) if (start.event === event) waiting.push(start.promise);
    for (const consumer of this.#consumers.values()) if (consumer.event === event) waiting.push(consumer.groupReady);
    if (waiting.length === 0) return;
    await new Promise<void>((resolve) => {
      const timer = after(FIRST_CONNECT_WAIT, resolve);
      void Promise.all(waiting).then(() => {
        timer.stop();
        resolve();
      });
    });
  }

  consume(event: string, group: string, handle: (message: EventMessage, attempt: number) => Promise<void>): void {
    const key = `${event}\n${group}`;
    if (this.#closing || this.#consumers.has(key)) return;
    const promise = this.#start(key, event, group, handle).catch(() => {
      // The client is missing: already logged once by the constructor.
    });
    const starting = { event, promise };
    this.#starting.add(starting);
    void promise.finally(() => this.#starting.delete(starting));
  }

  async #start(key: string, event: string, group: string, handle: DeliveryHandler): Promise<void> {
    const commands = await this.#connection;
    if (this.#closing || this.#consumers.has(key)) return;
    const reader = commands.duplicate();
    this.#readers.add(reader);
    this.#outage.watch(reader);
    const shared: ConsumerShared = {
      settings: this.#settings,
      consumer: this.#context.consumer,
      commands,
      slots: this.#slots,
      logger: this.#context.logger,
      retried: (e, g) => this.#context.retried(e, g),
      deadLettered: (e, g) => this.#context.deadLettered(e, g),
      claimed: (e, g) => this.#context.claimed(e, g),
    };
    const consumer = new StreamConsumer(event, group, shared, reader, handle);
    this.#consumers.set(key, consumer);
    consumer.start();
  }

  async backlog(): Promise<DurableBacklog[]> {
    return Promise.all(
      [...this.#consumers.values()].map(async (consumer) => {
        try {
          return { event: consumer.event, group: consumer.group, ...(await consumer.backlog()) };
        } catch {
          // Redis is away: unknown, not zero.
          return { event: consumer.event, group: consumer.group, pending: Number.NaN, lag: Number.NaN };
        }
      }),
    );
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await Promise.allSettled([...this.#starting].map((starting) => starting.promise));
    let commands: RedisConnection | undefined;
    try {
      commands = await this.#connection;
    } catch {
      return;
    }
    // No new reads; entries waiting for a slot are not read at all.
    this.#slots.close();
    await Promise.all([...this.#consumers.values()].map((consumer) => consumer.stop()));
    // Leave the groups tidy: a consumer with nothing pending is removed (one with pending entries
    // stays, so that another consumer can claim them).
    if (commands.ready) {
      await Promise.all(
        [...this.#consumers.values()].map(async (consumer) => {
          const stream = streamKey(this.#settings.prefix, consumer.event);
          const mine = await commands.xpendingRange(stream, consumer.group, '-', '+', 1, this.#context.consumer);
          if (mine.size === 0) await commands.xgroupDelConsumer(stream, consumer.group, this.#context.consumer);
        }),
      ).catch(() => {});
    }
    for (const reader of this.#readers) this.#outage.forget(reader);
    this.#outage.forget(commands);
    await Promise.all([...this.#readers].map((reader) => reader.quit()));
    await commands.quit();
  }
}
