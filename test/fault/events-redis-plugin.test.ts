// Durable events through the plugin (`events: { type: 'redis', url }`) against a real
// redis-server: emit is stored and handled once per group, a failing handler is retried then
// dead-lettered, Redis down makes emit fail clearly, broadcast stays on the cluster. Shared suite
// (Node, Bun, Deno). The engine alone is in events-redis.test.ts, crashes in events-redis-crash.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventError, type EventMeta, type ExpressMicroOptions } from '../../src/index.ts';
import { startService, stopAll, waitFor } from '../helpers.ts';
import { RedisServer, redisMissing } from '../support/redis-server.ts';

const reason = redisMissing();
if (reason) console.log(reason);

let redis: RedisServer | undefined;
let count = 0;

(reason ? describe.skip : describe)('durable events through the plugin (Redis Streams)', () => {
  beforeAll(async () => {
    redis = await RedisServer.start(false);
  });
  afterAll(async () => {
    await redis?.destroy();
  });
  afterEach(stopAll);

  const events = (extra: Record<string, unknown> = {}): ExpressMicroOptions['events'] => ({ type: 'redis', url: (redis as RedisServer).url, prefix: `plugin-${++count}`, ...extra }) as ExpressMicroOptions['events'];

  it('stores each emit and hands it to one instance of each group, once', async () => {
    const settings = events();
    const seen: { instance: string; id: string; attempt: number }[] = [];
    const email = (name: string, peers: string[]) =>
      startService('email-service', (_app, micro) => {
        micro.subscribe('order.created', (_payload, meta: EventMeta) => void seen.push({ instance: name, id: meta.id, attempt: meta.attempt }));
      }, { events: settings, peers });
    const a = await email('a', []);
    await email('b', [a.url]);
    const orders = await startService('order-service', () => {}, { events: settings, peers: [a.url] });
    await waitFor(() => orders.micro.peers().filter((peer) => peer.events.length > 0).length === 2, 'both subscribers known', 10_000);
    const results = await Promise.all(Array.from({ length: 50 }, (_, index) => orders.micro.emit('order.created', { index })));
    for (const result of results) {
      expect(result.stored).toMatch(/^\d+-\d+$/);
      expect(result.accepted.map((receipt) => receipt.group)).toEqual(['email-service']);
    }
    await waitFor(() => seen.length >= 50, 'fifty handled', 10_000);
    expect(new Set(seen.map((each) => each.id)).size).toBe(50);
    expect(seen).toHaveLength(50);
    expect(seen.every((each) => each.attempt === 1)).toBe(true);
  }, 30_000);

  it('retries a failing handler (meta.attempt) and dead-letters it after maxAttempts, counted in the metrics', async () => {
    const settings = events({ maxAttempts: 2 });
    const attempts: number[] = [];
    const worker = await startService('stock-service', (_app, micro) => {
      micro.subscribe('stock.reserve', (_payload, meta: EventMeta) => {
        attempts.push(meta.attempt);
        throw new Error('out of stock');
      });
    }, { events: settings });
    await worker.micro.emit('stock.reserve', { sku: 1 });
    await waitFor(() => (worker.micro.metrics().express_micro_events_total?.samples ?? []).some((sample) => sample.labels.outcome === 'dead_lettered'), 'dead-lettered', 15_000);
    expect(attempts).toEqual([1, 2]);
  }, 30_000);

  it('rejects emit with EventError while Redis is down; broadcast still goes over the cluster', async () => {
    const settings = events();
    const heard: unknown[] = [];
    const cache = await startService('cache-service', (_app, micro) => micro.subscribe('cache.flush', (payload) => void heard.push(payload)), { events: settings });
    const orders = await startService('order-service', () => {}, { events: settings, peers: [cache.url] });
    await waitFor(() => orders.micro.peers().some((peer) => peer.events.length > 0), 'the subscriber known', 10_000);
    await (redis as RedisServer).kill();
    try {
      const failure = await orders.micro.emit('cache.flush', 1).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(EventError);
      expect(failure).toMatchObject({ reason: 'unavailable', event: 'cache.flush' });
      const broadcast = await orders.micro.broadcast('cache.flush', 2);
      expect(broadcast.accepted).toHaveLength(1);
      await waitFor(() => heard.includes(2), 'the broadcast handled');
    } finally {
      await (redis as RedisServer).restart();
    }
  }, 30_000);
});
