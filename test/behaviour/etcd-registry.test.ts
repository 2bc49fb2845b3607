// The etcd registry against one real etcd member, on Node, Bun and Deno alike. The heavier
// scenarios (a crashed instance in its own process, a three-member cluster, outages, compaction,
// authentication, TLS) are in test/fault/etcd.test.ts, also run on every runtime.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ExpressMicroOptions } from '../../src/index.ts';
import { discovery, startService, recordingLogger, stopAll, upInstances, waitFor, type TestService } from '../helpers.ts';
import { resolveOptions } from '../../src/options.ts';
import { b64, etcdCall, etcdKeys, etcdMissing, EtcdCluster, HoldingProxy } from '../support/etcd.ts';

const reason = etcdMissing();
if (reason) console.log(reason);


(reason ? describe.skip : describe)('registry: etcd (one member)', () => {
  let etcd: EtcdCluster;
  let prefix: string;
  let count = 0;
  beforeAll(async () => {
    etcd = await EtcdCluster.start(1);
  });
  afterAll(async () => {
    await etcd?.stop();
  });
  afterEach(async () => {
    await stopAll();
  });

  const options = (extra: Partial<ExpressMicroOptions> = {}): ExpressMicroOptions => ({
    registry: { type: 'etcd', endpoints: etcd.endpoints, prefix, ttl: 10 },
    ...extra,
  });
  const start = (name: string, extra: Partial<ExpressMicroOptions> = {}): Promise<TestService> =>
    startService(name, (app) => app.get('/users/:id', (req, res) => void res.json({ id: req.params.id, name })), options(extra));

  it('finds the others with no peers, calls them, and serves /_discovery/services from the same table', async () => {
    prefix = `/em-test-${++count}/`;
    const a = await start('user-service');
    const b = await start('order-service');
    await waitFor(() => upInstances(b.micro, 'user-service').length === 1 && upInstances(a.micro, 'order-service').length === 1, 'each sees the other');
    expect(await b.micro.services.userService.getUser({ id: 7 })).toEqual({ id: '7', name: 'user-service' });
    expect((await etcdKeys(etcd.endpoints[0] as string, prefix)).sort()).toEqual([`${prefix}order-service/${b.micro.peers().find((peer) => peer.self)?.id}`, `${prefix}user-service/${a.micro.peers().find((peer) => peer.self)?.id}`].sort());
    const view = (await (await discovery(b.url, '/services')).json()) as { connectedPeers: Record<string, { url: string; status: string }> };
    expect(view.connectedPeers['user-service']).toMatchObject({ url: a.url, status: 'UP' });
    // Gossip is off: its endpoints are not served; the ping still answers.
    expect((await discovery(b.url, '/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(404);
    expect((await discovery(b.url, '/ping')).status).toBe(200);
  });

  it('carries labels and zone in the record, and ignores a record whose labels are malformed', async () => {
    prefix = `/em-test-${++count}/`;
    const { logger, lines } = recordingLogger();
    await start('user-service', { metadata: { version: '2', track: 'canary' }, zone: 'eu-west-1a' });
    const b = await start('order-service', { logger });
    await waitFor(() => upInstances(b.micro, 'user-service').length === 1, 'user-service seen');
    const seen = b.micro.peers().find((peer) => peer.service === 'user-service');
    expect({ ...seen?.metadata }).toEqual({ version: '2', track: 'canary' });
    expect(seen?.zone).toBe('eu-west-1a');
    expect(Object.getPrototypeOf(seen?.metadata)).toBeNull();
    const put = (key: string, extra: Record<string, unknown>) =>
      etcdCall(etcd.endpoints[0] as string, '/v3/kv/put', { key: b64(prefix + key), value: b64(JSON.stringify({ protocol: 2, name: 'hand-service', id: key.split('/')[1], url: `http://127.0.0.1:${key.length}`, routes: [], rev: 'r1', incarnation: 0, ...extra })) });
    await put('hand-service/cccccccc1', { metadata: { version: 2 } });
    await put('hand-service/cccccccc2', { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'x'])) });
    await put('hand-service/cccccccc3', { zone: 'eu west' });
    await put('hand-service/cccccccc44', { metadata: { version: '9' }, zone: 'z9' });
    await waitFor(() => upInstances(b.micro, 'hand-service').length === 1, 'the well-formed record applied');
    await waitFor(() => lines.filter((line) => line.includes('ignored the etcd record')).length === 3, 'three refusals logged');
    const hand = b.micro.peers().find((peer) => peer.service === 'hand-service');
    expect({ ...hand?.metadata }).toEqual({ version: '9' });
    expect(hand?.zone).toBe('z9');
  });

  it('carries subscriptions in the record: emit reaches a subscriber found in etcd, also one added while it runs', async () => {
    prefix = `/em-test-${++count}/`;
    const received: unknown[] = [];
    const email = await start('email-service');
    const orders = await start('order-service');
    await waitFor(() => upInstances(orders.micro, 'email-service').length === 1, 'the email-service seen');
    expect(await orders.micro.emit('order.created', 1)).toMatchObject({ accepted: [], failed: [] });
    email.micro.subscribe('order.created', (payload) => void received.push(payload));
    const subscribed = () => orders.micro.peers().some((peer) => peer.service === 'email-service' && peer.events.some((each) => each.event === 'order.created'));
    await waitFor(subscribed, 'the subscription in the record', 10_000);
    expect((await orders.micro.emit('order.created', 2)).accepted).toHaveLength(1);
    await waitFor(() => received.length === 1, 'the delivery');
    expect(received).toEqual([2]);
  }, 20_000);

  it('publishes a subscription made while its first record is on its way (the others may list it already)', async () => {
    prefix = `/em-test-${++count}/`;
    const proxy = await HoldingProxy.start(etcd.endpoints[0] as string);
    try {
      proxy.hold();
      const email = await start('email-service', { registry: { type: 'etcd', endpoints: [proxy.url], prefix, ttl: 10 } });
      const orders = await start('order-service');
      // The record is in etcd and the order-service lists it; its writer has not heard back.
      await waitFor(() => upInstances(orders.micro, 'email-service').length === 1, 'the email-service seen');
      email.micro.subscribe('order.created', () => {});
      proxy.release();
      await waitFor(() => orders.micro.peers().some((peer) => peer.service === 'email-service' && peer.events.some((each) => each.event === 'order.created')), 'the subscription in the record');
    } finally {
      await stopAll();
      await proxy.close();
    }
  }, 15_000);

  it('drops an instance that closes at once (its lease is revoked), long before its ttl', async () => {
    prefix = `/em-test-${++count}/`;
    const a = await start('user-service');
    const b = await start('order-service');
    await waitFor(() => upInstances(a.micro, 'order-service').length === 1, 'order-service seen');
    const removed: string[] = [];
    a.micro.on('removed', (instance) => removed.push(instance.url));
    const closedAt = Date.now();
    await b.stop();
    // Revoked by close() itself: the record is gone the moment close() returns, not at its ttl.
    expect(await etcdKeys(etcd.endpoints[0] as string, `${prefix}order-service/`)).toEqual([]);
    // The others learn it from the watch, long before the 10 s ttl could have expired it.
    await waitFor(() => upInstances(a.micro, 'order-service').length === 0, 'order-service dropped', 5000);
    expect(Date.now() - closedAt).toBeLessThan(5000);
    expect(removed).toEqual([b.url]);
  });

  it('registers again when its lease is lost (revoked behind its back), and the others see it again', async () => {
    prefix = `/em-test-${++count}/`;
    const { logger, lines } = recordingLogger();
    const a = await start('user-service', { registry: { type: 'etcd', endpoints: etcd.endpoints, prefix, ttl: 3 }, logger });
    const b = await start('order-service');
    await waitFor(() => upInstances(b.micro, 'user-service').length === 1, 'user-service seen');
    const endpoint = etcd.endpoints[0] as string;
    const key = `${prefix}user-service/${a.micro.peers().find((peer) => peer.self)?.id}`;
    const range = await etcdCall(endpoint, '/v3/kv/range', { key: b64(key) });
    const lease = (range.kvs as { lease: string }[])[0]?.lease;
    expect(lease).toBeDefined();
    const events: string[] = [];
    b.micro.on('removed', () => events.push('removed'));
    b.micro.on('discovered', () => events.push('discovered'));
    await etcdCall(endpoint, '/v3/lease/revoke', { ID: lease });
    await waitFor(() => events.join(',') === 'removed,discovered', 'dropped, then registered again', 5000);
    expect(upInstances(b.micro, 'user-service')).toEqual([a.url]);
    expect(lines.filter((line) => line.includes('lease') && line.includes('registering again'))).toHaveLength(1);
  });

  it('puts its own record back when it is deleted while its lease lives (as when a node:cluster sibling sharing its id closes)', async () => {
    prefix = `/em-test-${++count}/`;
    const a = await start('user-service');
    const endpoint = etcd.endpoints[0] as string;
    const key = `${prefix}user-service/${a.micro.peers().find((peer) => peer.self)?.id}`;
    await waitFor(async () => (await etcdKeys(endpoint, prefix)).includes(key), 'registered');
    await etcdCall(endpoint, '/v3/kv/deleterange', { key: b64(key) });
    await waitFor(async () => (await etcdKeys(endpoint, prefix)).includes(key), 'its record is back', 3000);
  });

  it('ignores hostile and malformed records with one log line each, and takes a well-formed one', async () => {
    prefix = `/em-test-${++count}/`;
    const { logger, lines } = recordingLogger();
    const a = await start('user-service', { logger });
    const endpoint = etcd.endpoints[0] as string;
    const put = (key: string, value: string) => etcdCall(endpoint, '/v3/kv/put', { key: b64(prefix + key), value: b64(value) });
    const descriptor = (name: string, id: string, url: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ protocol: 2, name, id, url, routes: [{ method: 'GET', path: '/x', names: ['getX'] }], rev: 'r1', incarnation: 0, ...extra });
    await put('evil-service/aaaaaaaa1', 'not json {');
    await put('evil-service/aaaaaaaa2', JSON.stringify({ protocol: 2, name: 'evil-service', id: 'aaaaaaaa2', url: 'javascript:alert(1)', routes: [], rev: 'r', incarnation: 0 }));
    await put('evil-service/aaaaaaaa3', descriptor('other-service', 'aaaaaaaa3', 'http://127.0.0.1:1'));
    await put('evil-service/aaaaaaaa4', descriptor('evil-service', 'aaaaaaaa4', a.url));
    await put('evil-service/aaaaaaaa5', descriptor('evil-service', 'aaaaaaaa5', 'http://127.0.0.1:2', { routes: Array.from({ length: 1001 }, () => ({ method: 'GET', path: '/', names: [] })) }));
    await put('no-slash-here', descriptor('evil-service', 'aaaaaaaa6', 'http://127.0.0.1:3'));
    await put('evil-service/aaaaaaaa7', descriptor('evil-service', 'aaaaaaaa7', 'http://127.0.0.1:4', { __proto__: { polluted: true }, protocol: 1 }));
    await put('evil-service/aaaaaaaa8', 'x'.repeat(1024 * 1024 + 10));
    // Written by hand but well-formed: it is a member like any other.
    await put('hand-service/bbbbbbbb1', descriptor('hand-service', 'bbbbbbbb1', 'http://127.0.0.1:5'));
    await waitFor(() => upInstances(a.micro, 'hand-service').length === 1, 'the well-formed record applied');
    await waitFor(() => lines.filter((line) => line.includes('ignored the etcd record')).length === 8, 'eight refusals logged');
    expect(a.micro.peers().map((peer) => peer.service).sort()).toEqual(['hand-service', 'user-service']);
    // The same faults written again are not logged again.
    await put('evil-service/aaaaaaaa1', 'not json {');
    await put('hand-service/bbbbbbbb2', descriptor('hand-service', 'bbbbbbbb2', 'http://127.0.0.1:6'));
    await waitFor(() => upInstances(a.micro, 'hand-service').length === 2, 'a later record applied');
    expect(lines.filter((line) => line.includes('ignored the etcd record')).length).toBe(8);
    expect(lines.filter((line) => line.includes('ignored the etcd record')).every((line) => line.startsWith('warn '))).toBe(true);
  });

  it('keeps its table and calls while etcd is down, says so once each way, and takes new instances after', async () => {
    prefix = `/em-test-${++count}/`;
    const { logger, lines } = recordingLogger();
    const a = await start('user-service');
    const b = await start('order-service', { logger });
    await waitFor(() => upInstances(b.micro, 'user-service').length === 1, 'user-service seen');
    await etcd.kill(0);
    await waitFor(() => lines.some((line) => line.startsWith('warn') && line.includes('etcd is unreachable')), 'the outage logged', 10_000);
    for (let index = 0; index < 20; index++) expect(await b.micro.services.userService.getUser({ id: index })).toMatchObject({ id: String(index) });
    expect(upInstances(b.micro, 'user-service')).toEqual([a.url]);
    etcd.restart(0);
    await etcd.healthy();
    await waitFor(() => lines.some((line) => line.includes('etcd answers again')), 'the recovery logged', 10_000);
    const c = await start('stock-service');
    await waitFor(() => upInstances(b.micro, 'stock-service').length === 1 && upInstances(c.micro, 'user-service').length === 1, 'a new instance joined after', 10_000);
    expect(lines.filter((line) => line.includes('etcd is unreachable')).length).toBe(1);
    expect(lines.filter((line) => line.includes('etcd answers again')).length).toBe(1);
    expect(upInstances(b.micro, 'user-service')).toEqual([a.url]);
  }, 40_000);
});

describe('registry option', () => {
  const refused = (registry: unknown, extra: Record<string, unknown> = {}): string => {
    try {
      resolveOptions({ serviceName: 'x-service', logger: false, registry: registry as ExpressMicroOptions['registry'], ...extra });
    } catch (error) {
      return (error as Error).message;
    }
    return '';
  };
  it('refuses a bad etcd registry at once, naming the field, never echoing the password', () => {
    expect(refused({ type: 'zookeeper' })).toContain('`registry.type`');
    expect(refused({ type: 'etcd', endpoints: [] })).toContain('`registry.endpoints`');
    expect(refused({ type: 'etcd', endpoints: ['ftp://x'] })).toContain('`registry.endpoints`');
    expect(refused({ type: 'etcd', endpoints: ['http://127.0.0.1:2379'], prefix: 'no-slash' })).toContain('`registry.prefix`');
    expect(refused({ type: 'etcd', endpoints: ['http://127.0.0.1:2379'], ttl: 1 })).toContain('`registry.ttl`');
    expect(refused({ type: 'etcd', endpoints: ['http://127.0.0.1:2379'], password: 'hunter2' })).not.toContain('hunter2');
    expect(refused({ type: 'etcd', endpoints: ['http://127.0.0.1:2379'], tls: { ca: '-----BEGIN CERTIFICATE-----' } })).toContain('no endpoint is https');
    expect(refused({ type: 'etcd', endpoints: ['https://127.0.0.1:2379'], tls: { ca: '/etc/ca.pem' } })).toContain('PEM');
    expect(refused({ type: 'etcd', endpoints: ['http://127.0.0.1:2379'] }, { peers: ['http://127.0.0.1:3000'] })).toContain('`peers`');
    expect(refused({ type: 'etcd', endpoints: ['http://127.0.0.1:2379'] })).toBe('');
    expect(refused(undefined)).toBe('');
  });
});
