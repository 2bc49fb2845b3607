// The durable events engine (src/events/redis/) against a real redis-server on 127.0.0.1: each
// group gets every event once, retries with the attempt number, dead letters, maxInFlight, close()
// finishing what is in flight, and Redis going away (publish fails at once, consumers resume and
// nothing stored is lost). Written for the shared suite (vitest's API only): it runs on Node, Bun
// and Deno. test/fault/events-redis-crash.test.ts kills consumer processes under load.
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventError } from '../../src/errors/index.ts';
import type { DurableEvents, RedisEventSettings } from '../../src/events/durable.ts';
import { redisEvents } from '../../src/events/redis/index.ts';
import type { EventMessage } from '../../src/events/types.ts';
import { recordingLogger, waitFor } from '../helpers.ts';
import { RedisServer, redisMissing } from '../support/redis-server.ts';

const reason = redisMissing();
if (reason) console.log(reason);

let redis: RedisServer | undefined;
let count = 0;
const engines: DurableEvents[] = [];

/** A Redis client of the test's own, to look at the streams. */
async function inspect<T>(task: (send: (args: string[]) => Promise<unknown>) => Promise<T>): Promise<T> {
  const client = createClient({ url: (redis as RedisServer).url, RESP: 2 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await task((args) => client.sendCommand(args));
  } finally {
    await client.close();
  }
}

/** The names of the consumer groups on a stream (none before its first group). */
async function groupsOf(stream: string): Promise<string[]> {
  return inspect(async (send) => {
    const reply = (await send(['XINFO', 'GROUPS', stream]).catch(() => [])) as unknown[][];
    return reply.map((row) => String(row[1]));
  });
}

function engine(consumer: string, prefix: string, settings: Partial<RedisEventSettings> = {}) {
  const { logger, lines } = recordingLogger();
  const counters = { retried: 0, deadLettered: 0, claimed: 0 };
  const events = redisEvents(
    { type: 'redis', url: (redis as RedisServer).url, prefix, maxAttempts: 3, maxInFlight: 16, claimIdle: 30_000, maxLength: 100_000, ...settings },
    {
      consumer,
      logger,
      retried: () => void counters.retried++,
      deadLettered: () => void counters.deadLettered++,
      claimed: () => void counters.claimed++,
    },
  );
  engines.push(events);
  return { events, lines, counters };
}

function message(event: string, index: number, payload: unknown = { index }): EventMessage {
  return { id: `evt-${String(index).padStart(6, '0')}-${Math.random().toString(36).slice(2, 8)}`, event, emitter: 'order-service', from: 'instance-0001', time: Date.now(), payload };
}

/** What a handler saw: the event id and the attempt, in order. */
type Seen = { id: string; attempt: number }[];

const recorder = (seen: Seen, work?: () => Promise<void>) => async (delivered: EventMessage, attempt: number) => {
  seen.push({ id: delivered.id, attempt });
  await work?.();
};

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

(reason ? describe.skip : describe)('events: the Redis Streams engine', () => {
  beforeAll(async () => {
    redis = await RedisServer.start(true);
  }, 20_000);

  afterEach(async () => {
    await Promise.all(engines.splice(0).map((events) => events.close()));
  }, 20_000);

  afterAll(async () => {
    await redis?.destroy();
  });

  it('gives each group every event once: two consumers share one group, a third is a group alone', async () => {
    const prefix = `em-test-${++count}`;
    const [a1, a2, b1] = [engine('billing-1', prefix), engine('billing-2', prefix), engine('shipping-1', prefix)];
    const billing1: Seen = [];
    const billing2: Seen = [];
    const shipping: Seen = [];
    a1.events.consume('order.created', 'billing', recorder(billing1));
    a2.events.consume('order.created', 'billing', recorder(billing2));
    b1.events.consume('order.created', 'shipping', recorder(shipping));
    await waitFor(async () => (await groupsOf(`${prefix}:order.created`)).length === 2, 'both groups created');
    const published = await Promise.all(Array.from({ length: 300 }, (_, index) => a1.events.publish(message('order.created', index))));
    expect(new Set(published).size).toBe(300);
    await waitFor(() => billing1.length + billing2.length >= 300 && shipping.length >= 300, 'every event handled by both groups', 15_000);
    const billing = [...billing1, ...billing2];
    expect(new Set(billing.map((seen) => seen.id)).size).toBe(300);
    expect(billing).toHaveLength(300);
    expect(shipping).toHaveLength(300);
    expect(new Set(shipping.map((seen) => seen.id)).size).toBe(300);
    expect([...billing, ...shipping].every((seen) => seen.attempt === 1)).toBe(true);
    // Both billing consumers took a share.
    expect(billing1.length).toBeGreaterThan(0);
    expect(billing2.length).toBeGreaterThan(0);
    await waitFor(async () => (await a1.events.backlog()).every((backlog) => backlog.pending === 0), 'every entry acknowledged');
    expect(await b1.events.backlog()).toEqual([{ event: 'order.created', group: 'shipping', pending: 0, lag: 0 }]);
  }, 30_000);

  it('retries a failing handler with backoff: attempts 1, 2, 3, then acknowledged', async () => {
    const prefix = `em-test-${++count}`;
    const { events, counters } = engine('retry-1', prefix, { maxAttempts: 5 });
    const seen: Seen = [];
    events.consume('order.paid', 'billing', async (delivered, attempt) => {
      seen.push({ id: delivered.id, attempt });
      if (attempt < 3) throw new Error(`not yet (${attempt})`);
    });
    await waitFor(async () => (await groupsOf(`${prefix}:order.paid`)).length === 1, 'the group created');
    const sent = message('order.paid', 1);
    await events.publish(sent);
    await waitFor(() => seen.length === 3, 'three runs', 10_000);
    expect(seen).toEqual([1, 2, 3].map((attempt) => ({ id: sent.id, attempt })));
    expect(counters.retried).toBe(2);
    await waitFor(async () => (await events.backlog())[0]?.pending === 0, 'acknowledged');
    expect(counters.deadLettered).toBe(0);
  }, 20_000);

  it('moves an event whose handler always fails to <prefix>:<event>:dead after maxAttempts, with the error', async () => {
    const prefix = `em-test-${++count}`;
    const { events, counters, lines } = engine('dead-1', prefix, { maxAttempts: 3 });
    const seen: Seen = [];
    events.consume('order.failed', 'billing', async (delivered, attempt) => {
      seen.push({ id: delivered.id, attempt });
      throw new Error(`card declined for ${delivered.id}`);
    });
    await waitFor(async () => (await groupsOf(`${prefix}:order.failed`)).length === 1, 'the group created');
    const sent = message('order.failed', 7, { order: 7, items: ['a', 'b'] });
    const stored = await events.publish(sent);
    await waitFor(() => counters.deadLettered === 1, 'dead-lettered', 10_000);
    expect(seen.map((run) => run.attempt)).toEqual([1, 2, 3]);
    const dead = await inspect(async (send) => (await send(['XRANGE', `${prefix}:order.failed:dead`, '-', '+'])) as [string, string[]][]);
    expect(dead).toHaveLength(1);
    const fields = new Map<string, string>();
    const raw = dead[0]?.[1] ?? [];
    for (let index = 0; index < raw.length; index += 2) fields.set(raw[index] as string, raw[index + 1] as string);
    expect(Object.fromEntries(fields)).toMatchObject({
      id: sent.id,
      event: 'order.failed',
      emitter: 'order-service',
      payload: JSON.stringify({ order: 7, items: ['a', 'b'] }),
      group: 'billing',
      attempts: '3',
      error: `card declined for ${sent.id}`,
      entry: stored,
    });
    await waitFor(async () => (await events.backlog())[0]?.pending === 0, 'the original acknowledged');
    expect(lines.filter((line) => line.includes('dead-letter'))).toHaveLength(1);
  }, 20_000);

  it('runs at most maxInFlight handlers at once, over all its subscriptions', async () => {
    const prefix = `em-test-${++count}`;
    const { events } = engine('busy-1', prefix, { maxInFlight: 4 });
    let running = 0;
    let most = 0;
    let done = 0;
    const work = async () => {
      running++;
      most = Math.max(most, running);
      await pause(5);
      running--;
      done++;
    };
    events.consume('order.created', 'billing', work);
    events.consume('order.created', 'audit', work);
    events.consume('order.shipped', 'billing', work);
    await waitFor(async () => (await groupsOf(`${prefix}:order.created`)).length === 2 && (await groupsOf(`${prefix}:order.shipped`)).length === 1, 'the groups created');
    await Promise.all(Array.from({ length: 60 }, (_, index) => events.publish(message(index % 2 ? 'order.created' : 'order.shipped', index))));
    await waitFor(() => done === 90, 'every delivery handled (30 × 2 groups + 30)', 15_000);
    expect(most).toBe(4);
  }, 30_000);

  it('close() stops reading, lets the handlers running finish and acknowledges them', async () => {
    const prefix = `em-test-${++count}`;
    const { events } = engine('closing-1', prefix);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started: string[] = [];
    const finished: string[] = [];
    events.consume('order.created', 'billing', async (delivered) => {
      started.push(delivered.id);
      await gate;
      finished.push(delivered.id);
    });
    await waitFor(async () => (await groupsOf(`${prefix}:order.created`)).length === 1, 'the group created');
    await Promise.all([1, 2, 3].map((index) => events.publish(message('order.created', index))));
    await waitFor(() => started.length === 3, 'three handlers running');
    let closed = false;
    const closing = events.close().then(() => {
      closed = true;
    });
    // Stored after close() began: nobody here reads it.
    const other = engine('publisher', prefix);
    await other.events.publish(message('order.created', 4));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(finished).toHaveLength(3);
    expect(started).toHaveLength(3);
    const [pending, lag] = await inspect(async (send) => {
      const groups = (await send(['XINFO', 'GROUPS', `${prefix}:order.created`])) as unknown[][];
      const row = groups[0] as unknown[];
      return [Number(row[row.indexOf('pending') + 1]), Number(row[row.indexOf('lag') + 1])];
    });
    expect(pending).toBe(0);
    expect(lag).toBe(1);
    await expect(events.publish(message('order.created', 5))).rejects.toMatchObject({ name: 'EventError', reason: 'unavailable' });
  }, 20_000);

  it('rejects publish at once while Redis is down, and its consumers resume after: nothing stored is lost', async () => {
    const prefix = `em-test-${++count}`;
    const server = redis as RedisServer;
    const { events, lines } = engine('outage-1', prefix, { maxInFlight: 4 });
    const reader = engine('outage-2', prefix, { maxInFlight: 4 });
    const seen = new Map<string, number>();
    const handler = async (delivered: EventMessage) => {
      seen.set(delivered.id, (seen.get(delivered.id) ?? 0) + 1);
      await pause(5);
    };
    events.consume('order.created', 'billing', handler);
    reader.events.consume('order.created', 'billing', handler);
    await waitFor(async () => (await groupsOf(`${prefix}:order.created`)).length === 1, 'the group created');
    const before = Array.from({ length: 400 }, (_, index) => message('order.created', index));
    await Promise.all(before.map((sent) => events.publish(sent)));
    // Down while most are still in the stream or in flight.
    await server.kill();
    const started = Date.now();
    const error = await events.publish(message('order.created', 999)).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(EventError);
    expect(error).toMatchObject({ reason: 'unavailable', event: 'order.created' });
    expect((error as Error).message).toContain(`Redis at redis://127.0.0.1:${server.port}`);
    expect(Date.now() - started).toBeLessThan(1000);
    const handledWhileUp = seen.size;
    expect(handledWhileUp).toBeLessThan(400);
    await waitFor(() => lines.some((line) => line.startsWith('warn') && line.includes('unreachable')), 'the outage logged');
    await server.restart();
    await waitFor(() => before.every((sent) => seen.has(sent.id)), 'every event stored before the outage handled', 20_000);
    await waitFor(() => lines.some((line) => line.includes('answers again')), 'the recovery logged');
    // One line each way, not one per connection or per retry.
    expect(lines.filter((line) => line.includes('unreachable'))).toHaveLength(1);
    expect(lines.filter((line) => line.includes('answers again'))).toHaveLength(1);
    expect(reader.lines.filter((line) => line.includes('unreachable'))).toHaveLength(1);
    const after = message('order.created', 1000);
    await events.publish(after);
    await waitFor(() => seen.has(after.id), 'a new event handled after the outage', 10_000);
    await waitFor(async () => (await events.backlog())[0]?.pending === 0, 'everything acknowledged', 10_000);
    const duplicates = [...seen.values()].filter((times) => times > 1).length;
    console.log(`redis outage: ${handledWhileUp} of 400 handled before the kill, ${duplicates} handled twice (at least once)`);
  }, 45_000);
});
