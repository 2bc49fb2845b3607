/**
 * The Redis connection of the durable events transport (src/events/redis/, docs/events-redis.md):
 * a thin adapter around node-redis (`redis`, an optional peer dependency, chosen by
 * scripts/bench-redis-clients.mjs on Node, Bun and Deno). The client is imported only when a
 * connection is opened, so an app without `events: { type: 'redis' }` never loads it.
 *
 * Every command goes out raw (`sendCommand`) in RESP2 and its reply is parsed here, so the events
 * code sees plain typed values and no client type, and another client could stand in behind the
 * same interface. Commands fail at once while the connection is down (no offline queue: an event
 * is never held in memory waiting for Redis); the client reconnects by itself with the delay the
 * caller gives, and {@link RedisConnection.onStatus} says when it went away and came back.
 */

/**
 * One stream entry: its id and its fields, in a Map (names from the wire never become object keys);
 * `fields` is undefined for a pending entry that was trimmed away.
 */
export interface RedisEntry {
  readonly id: string;
  readonly fields: ReadonlyMap<string, string> | undefined;
}

/** An entry's fields in order, as XADD takes them. */
export type RedisFields = ReadonlyArray<readonly [string, string]>;

/** One consumer group as XINFO GROUPS describes it. */
export interface RedisGroupInfo {
  readonly name: string;
  /** Entries delivered to the group's consumers and not acknowledged. */
  readonly pending: number;
  /** Entries not yet delivered to the group; undefined when Redis cannot tell (before 7.0, or after a trim). */
  readonly lag: number | undefined;
}

/** What XAUTOCLAIM answered: the cursor to continue from ("0-0" once round) and the entries now ours. */
export interface RedisClaim {
  readonly next: string;
  readonly entries: readonly RedisEntry[];
  /** Pending ids whose entries were trimmed away: Redis dropped them from the pending list. */
  readonly deleted: readonly string[];
}

/** One pending entry as XPENDING lists it. */
export interface RedisPending {
  /** The consumer it was last delivered to. */
  readonly consumer: string;
  /** Milliseconds since then. */
  readonly idle: number;
  /** How many times it was delivered (read, claimed or re-read): the attempt number of its latest delivery. */
  readonly deliveries: number;
}

/** How a connection is opened. */
export interface RedisConnectOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. */
  url: string;
  /** The wait (ms) before the `retries`-th reconnection attempt (0-based). */
  reconnectDelay: (retries: number) => number;
}

/**
 * A listener of a connection's state: `up` once connected (again), `down` with the cause when it
 * was lost or, before it ever connected, when the first attempt failed. Called on changes only.
 */
export type RedisStatusListener = (status: 'up' | 'down', cause?: Error) => void;

/**
 * One connection to Redis. Commands reject at once while it is down; blocking reads
 * (`xreadgroup` with `block`) hold the connection, so a reader gets a connection of its own
 * ({@link RedisConnection.duplicate}).
 */
export interface RedisConnection {
  /** Whether commands can be sent now. */
  readonly ready: boolean;
  /** Appends an entry (`XADD <stream> MAXLEN ~ <maxLength> * field value …`); resolves with its id. */
  xadd(stream: string, maxLength: number, fields: RedisFields): Promise<string>;
  /** `XGROUP CREATE <stream> <group> $ MKSTREAM`; false when the group already exists (BUSYGROUP). */
  xgroupCreate(stream: string, group: string): Promise<boolean>;
  /**
   * `XREADGROUP GROUP <group> <consumer> COUNT <count> [BLOCK <ms>] STREAMS <stream> <id>`: `>`
   * for entries never delivered to the group; an id (`0` to start) for this consumer's own pending
   * ones after it (each read adds one to their delivery count). An empty array when nothing came
   * within `block` ms.
   */
  xreadgroup(stream: string, group: string, consumer: string, id: string, count: number, block?: number): Promise<RedisEntry[]>;
  /** `XACK`; resolves with how many were acknowledged. */
  xack(stream: string, group: string, ids: readonly string[]): Promise<number>;
  /** `XCLAIM <stream> <group> <consumer> <minIdle> <id>`: the entry, now ours (its delivery count +1), or undefined when it was not idle that long (someone else took it). */
  xclaim(stream: string, group: string, consumer: string, minIdle: number, id: string): Promise<RedisEntry | undefined>;
  /** `XCLAIM … JUSTID`: resets the idle time of entries we still work on, so nobody claims them; their delivery count stays. */
  xtouch(stream: string, group: string, consumer: string, ids: readonly string[]): Promise<void>;
  /** `XAUTOCLAIM <stream> <group> <consumer> <minIdle> <start> COUNT <count>`. */
  xautoclaim(stream: string, group: string, consumer: string, minIdle: number, start: string, count: number): Promise<RedisClaim>;
  /** `XPENDING <stream> <group> <start> <end> <count> [<consumer>]`: who holds each pending entry, and how often it was delivered. */
  xpendingRange(stream: string, group: string, start: string, end: string, count: number, consumer?: string): Promise<Map<string, RedisPending>>;
  /** `XPENDING <stream> <group>`: how many entries the group has pending. */
  xpendingSummary(stream: string, group: string): Promise<number>;
  /** `XINFO GROUPS <stream>`: pending and lag per group; empty when the stream does not exist. */
  xinfoGroups(stream: string): Promise<RedisGroupInfo[]>;
  /** `XGROUP DELCONSUMER`: only call it for a consumer with nothing pending (its pending entries would be lost). */
  xgroupDelConsumer(stream: string, group: string, consumer: string): Promise<void>;
  /** `CLIENT ID` of this connection (it changes on every reconnection). */
  clientId(): Promise<number>;
  /** `CLIENT UNBLOCK <id>`: a blocked read on that connection returns as if it timed out, with no entry. */
  clientUnblock(id: number): Promise<void>;
  /** Another connection to the same server, with the same options, connecting in the background. */
  duplicate(): RedisConnection;
  /** Resolves once the connection is up (at once if it is), or when it is closed. */
  whenReady(): Promise<void>;
  /** Subscribes to the connection's state changes. */
  onStatus(listener: RedisStatusListener): void;
  /** Closes the connection: gracefully when it is up (commands sent are answered first), at once when it is not. */
  quit(): Promise<void>;
}

/** Thrown when `redis` (the client) cannot be loaded: the app did not install it. */
export class RedisClientMissingError extends Error {
  override readonly name: string = 'RedisClientMissingError';
}

/** The part of node-redis this adapter uses, typed here so that no client type leaks out. */
interface NodeRedisClient {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: readonly string[]): Promise<unknown>;
  duplicate(): NodeRedisClient;
  close(): Promise<void>;
  destroy(): void;
  on(event: string, listener: (error?: Error) => void): unknown;
}

interface NodeRedisModule {
  createClient(options: Record<string, unknown>): NodeRedisClient;
}

let loading: Promise<NodeRedisModule> | undefined;

/** Imports the client once; rejects with {@link RedisClientMissingError} when it is not installed. */
function loadClient(): Promise<NodeRedisModule> {
  loading ??= import('redis').then(
    (module) => module as unknown as NodeRedisModule,
    (cause: unknown) => {
      loading = undefined;
      throw new RedisClientMissingError('the Redis client is not installed: npm install redis', { cause });
    },
  );
  return loading;
}

/**
 * Opens a connection to `options.url`. Resolves as soon as the client is loaded: the connection
 * itself comes up in the background (and keeps retrying while Redis is away), so check
 * {@link RedisConnection.ready} or wait on {@link RedisConnection.whenReady}.
 */
export async function connectRedis(options: RedisConnectOptions): Promise<RedisConnection> {
  const module = await loadClient();
  const client = module.createClient({
    url: options.url,
    RESP: 2,
    disableOfflineQueue: true,
    socket: { connectTimeout: 5000, reconnectStrategy: (retries: number) => options.reconnectDelay(retries) },
  });
  return new NodeRedisConnection(client);
}

class NodeRedisConnection implements RedisConnection {
  readonly #client: NodeRedisClient;
  readonly #listeners: RedisStatusListener[] = [];
  #waiting: (() => void)[] = [];
  #closed = false;
  #state: 'connecting' | 'up' | 'down' = 'connecting';

  constructor(client: NodeRedisClient) {
    this.#client = client;
    client.on('ready', () => {
      this.#state = 'up';
      this.#wake();
      for (const listener of this.#listeners) listener('up');
    });
    const lost = (cause?: Error) => {
      if (this.#state === 'down' || this.#closed) return;
      this.#state = 'down';
      for (const listener of this.#listeners) listener('down', cause);
    };
    // node-redis emits 'error' before each reconnection; an unlistened 'error' would crash the process.
    client.on('error', (cause) => lost(cause));
    client.on('reconnecting', () => lost());
    client.on('end', () => lost());
    // Rejects only when the client is closed before it ever connected.
    client.connect().catch(() => {});
  }

  get ready(): boolean {
    return !this.#closed && this.#client.isReady;
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resolve of waiting) resolve();
  }

  #send(args: readonly string[]): Promise<unknown> {
    return this.#client.sendCommand(args);
  }

  async xadd(stream: string, maxLength: number, fields: RedisFields): Promise<string> {
    const args = ['XADD', stream, 'MAXLEN', '~', String(maxLength), '*'];
    for (const [name, value] of fields) args.push(name, value);
    return String(await this.#send(args));
  }

  async xgroupCreate(stream: string, group: string): Promise<boolean> {
    try {
      await this.#send(['XGROUP', 'CREATE', stream, group, '$', 'MKSTREAM']);
      return true;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('BUSYGROUP')) return false;
      throw error;
    }
  }

  async xreadgroup(stream: string, group: string, consumer: string, id: string, count: number, block?: number): Promise<RedisEntry[]> {
    const args = ['XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(count)];
    if (block !== undefined) args.push('BLOCK', String(block));
    args.push('STREAMS', stream, id);
    const reply = await this.#send(args);
    // [[stream, [[id, [field, value, …]] | [id, nil], …]]], or nil when the block timed out.
    if (!Array.isArray(reply) || reply.length === 0) return [];
    const first: unknown = reply[0];
    return Array.isArray(first) ? entries(first[1]) : [];
  }

  async xack(stream: string, group: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return Number(await this.#send(['XACK', stream, group, ...ids]));
  }

  async xclaim(stream: string, group: string, consumer: string, minIdle: number, id: string): Promise<RedisEntry | undefined> {
    const reply = await this.#send(['XCLAIM', stream, group, consumer, String(Math.max(0, Math.floor(minIdle))), id]);
    const claimed = entries(reply);
    // A trimmed entry comes back as nil in Redis 6 and not at all in 7: either way, nothing to run.
    return claimed.find((entry) => entry.id === id);
  }

  async xtouch(stream: string, group: string, consumer: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#send(['XCLAIM', stream, group, consumer, '0', ...ids, 'JUSTID']);
  }

  async xautoclaim(stream: string, group: string, consumer: string, minIdle: number, start: string, count: number): Promise<RedisClaim> {
    const reply = await this.#send(['XAUTOCLAIM', stream, group, consumer, String(Math.max(0, Math.floor(minIdle))), start, 'COUNT', String(count)]);
    if (!Array.isArray(reply)) return { next: '0-0', entries: [], deleted: [] };
    // Redis 7 adds the ids of trimmed entries it dropped from the pending list as a third element.
    const deleted = Array.isArray(reply[2]) ? reply[2].map(String) : [];
    return { next: String(reply[0]), entries: entries(reply[1]), deleted };
  }

  async xpendingRange(stream: string, group: string, start: string, end: string, count: number, consumer?: string): Promise<Map<string, RedisPending>> {
    const args = ['XPENDING', stream, group, start, end, String(count)];
    if (consumer !== undefined) args.push(consumer);
    const reply = await this.#send(args);
    const pending = new Map<string, RedisPending>();
    // [[id, consumer, idle ms, deliveries], …]
    if (Array.isArray(reply)) for (const row of reply) if (Array.isArray(row)) pending.set(String(row[0]), { consumer: String(row[1]), idle: Number(row[2]), deliveries: Number(row[3]) });
    return pending;
  }

  async xpendingSummary(stream: string, group: string): Promise<number> {
    const reply = await this.#send(['XPENDING', stream, group]);
    return Array.isArray(reply) ? Number(reply[0]) : 0;
  }

  async xinfoGroups(stream: string): Promise<RedisGroupInfo[]> {
    let reply: unknown;
    try {
      reply = await this.#send(['XINFO', 'GROUPS', stream]);
    } catch (error) {
      if (error instanceof Error && error.message.includes('no such key')) return [];
      throw error;
    }
    const groups: RedisGroupInfo[] = [];
    if (!Array.isArray(reply)) return groups;
    for (const row of reply) {
      if (!Array.isArray(row)) continue;
      const info = new Map<string, unknown>();
      for (let index = 0; index + 1 < row.length; index += 2) info.set(String(row[index]), row[index + 1]);
      const lag = info.get('lag');
      groups.push({ name: String(info.get('name')), pending: Number(info.get('pending') ?? 0), lag: lag === null || lag === undefined ? undefined : Number(lag) });
    }
    return groups;
  }

  async xgroupDelConsumer(stream: string, group: string, consumer: string): Promise<void> {
    await this.#send(['XGROUP', 'DELCONSUMER', stream, group, consumer]);
  }

  async clientId(): Promise<number> {
    return Number(await this.#send(['CLIENT', 'ID']));
  }

  async clientUnblock(id: number): Promise<void> {
    await this.#send(['CLIENT', 'UNBLOCK', String(id)]);
  }

  duplicate(): RedisConnection {
    return new NodeRedisConnection(this.#client.duplicate());
  }

  whenReady(): Promise<void> {
    if (this.#closed || this.#client.isReady) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  onStatus(listener: RedisStatusListener): void {
    this.#listeners.push(listener);
  }

  async quit(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.length = 0;
    this.#wake();
    if (this.#client.isReady) {
      try {
        await this.#client.close();
        return;
      } catch {
        // Lost while closing: fall through and drop it.
      }
    }
    this.#client.destroy();
  }
}

/** Parses `[[id, [field, value, …]] | [id, nil] | nil, …]`. */
function entries(reply: unknown): RedisEntry[] {
  const parsed: RedisEntry[] = [];
  if (!Array.isArray(reply)) return parsed;
  for (const item of reply) {
    if (!Array.isArray(item) || item.length < 1) continue;
    const raw: unknown = item[1];
    let fields: Map<string, string> | undefined;
    if (Array.isArray(raw)) {
      fields = new Map();
      for (let index = 0; index + 1 < raw.length; index += 2) fields.set(String(raw[index]), String(raw[index + 1]));
    }
    parsed.push({ id: String(item[0]), fields });
  }
  return parsed;
}
