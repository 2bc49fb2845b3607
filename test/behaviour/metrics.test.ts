import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Metrics } from '../../src/index.ts';
import { writeExposition } from '../../src/metrics/index.ts';
import { signRequest } from '../../src/security/index.ts';
import { discovery, SECRET, startService, stopAll, upInstances, waitFor, type TestService } from '../helpers.ts';
import { ExpositionError, parseExposition, sampleValue, type Exposition } from '../support/prometheus.ts';

afterEach(stopAll);

async function scrape(service: TestService): Promise<Exposition> {
  const response = await discovery(service.url, '/metrics');
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await response.text());
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Puts a member that cannot be reached (its port is closed) into `service`'s table, as a peer would. */
async function registerGhost(service: TestService, index = 0): Promise<void> {
  const self = {
    protocol: 2,
    name: 'ghost-service',
    id: `ghost${index}123456789ab`,
    url: `http://127.0.0.1:${await closedPort()}`,
    routes: [{ method: 'GET', path: '/ghost', names: ['getGhost'] }],
    rev: 'r1',
    incarnation: 0,
  };
  const response = await discovery(service.url, '/register', { method: 'POST', body: JSON.stringify({ self, members: [] }), headers: { 'content-type': 'application/json' } });
  expect(response.status).toBe(200);
}

describe('metrics: the Prometheus text writer', () => {
  it('escapes label values and HELP, spells NaN and infinities, and ends with a newline', () => {
    const metrics: Metrics = {
      test_gauge: { type: 'gauge', help: 'back\\slash and\nnewline', samples: [{ labels: { name: 'a"b\\c\nd' }, value: Number.NaN }, { labels: { name: 'up' }, value: Infinity }, { labels: { name: 'down' }, value: -Infinity }] },
      test_empty_total: { type: 'counter', help: 'no samples yet', samples: [] },
      test_seconds: { type: 'histogram', help: 'h', samples: [{ labels: { service: 's' }, count: 3, sum: 0.5, buckets: [{ le: 0.001, count: 1 }, { le: 0.25, count: 2 }] }] },
    };
    const text = writeExposition(metrics);
    expect(text.endsWith('\n')).toBe(true);
    expect(text).toContain('# HELP test_gauge back\\\\slash and\\nnewline\n');
    expect(text).toContain('test_gauge{name="a\\"b\\\\c\\nd"} NaN\n');
    expect(text).toContain('test_gauge{name="up"} +Inf\n');
    expect(text).toContain('test_gauge{name="down"} -Inf\n');
    expect(text).toContain('# HELP test_empty_total no samples yet\n# TYPE test_empty_total counter\n');
    expect(text).toContain('test_seconds_bucket{service="s",le="+Inf"} 3\ntest_seconds_sum{service="s"} 0.5\ntest_seconds_count{service="s"} 3\n');
    const parsed = parseExposition(text);
    expect(parsed.get('test_gauge')?.help).toBe('back\\slash and\nnewline');
    expect(parsed.get('test_gauge')?.samples[0]?.labels.name).toBe('a"b\\c\nd');
    expect(parsed.get('test_seconds')?.samples.map((sample) => sample.value)).toEqual([1, 2, 3, 0.5, 3]);
  });

  it('refuses names Prometheus would not accept', () => {
    expect(() => writeExposition({ 'bad-name': { type: 'gauge', help: '', samples: [] } })).toThrow();
    expect(() => writeExposition({ good: { type: 'gauge', help: '', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] } })).toThrow();
  });
});

describe('metrics: the strict parser used by these tests', () => {
  const good = '# HELP a_total Some help.\n# TYPE a_total counter\na_total{x="1"} 2\n# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.3\nh_count 2\n';

  it('accepts well-formed text', () => {
    const parsed = parseExposition(good);
    expect(sampleValue(parsed, 'a_total', { x: '1' })).toBe(2);
    expect(sampleValue(parsed, 'h_count')).toBe(2);
  });

  it('fails on every violation', () => {
    const bad: [string, string][] = [
      ['no trailing newline', good.slice(0, -1)],
      ['bad metric name', '9abc 1\n'],
      ['bad label name', 'a{9x="1"} 1\n'],
      ['unclosed label value', 'a{x="1} 1\n'],
      ['bad escape in a label value', 'a{x="\\t"} 1\n'],
      ['bad escape in HELP', '# HELP a \\"quoted\\"\na 1\n'],
      ['repeated label', 'a{x="1",x="2"} 1\n'],
      ['not a number', 'a 1,5\n'],
      ['Infinity spelled wrong', 'a Infinity\n'],
      ['no value', 'a{x="1"}\n'],
      ['second TYPE', '# TYPE a gauge\n# TYPE a gauge\na 1\n'],
      ['second HELP', '# HELP a x\n# HELP a y\na 1\n'],
      ['unknown TYPE', '# TYPE a meter\na 1\n'],
      ['TYPE after samples', 'a 1\n# TYPE a gauge\n'],
      ['family split in two groups', 'a 1\nb 1\na{x="1"} 2\n'],
      ['repeated sample', 'a{x="1"} 1\na{x="1"} 2\n'],
      ['negative counter', '# TYPE a_total counter\na_total -1\n'],
      ['histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
      ['histogram +Inf not _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'],
      ['histogram buckets going down', '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="2"} 2\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 3\n'],
      ['histogram bucket without le', '# TYPE h histogram\nh_bucket 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
      ['histogram without _sum', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n'],
      ['histogram with a plain sample', '# TYPE h histogram\nh 1\n'],
    ];
    for (const [label, text] of bad) expect(() => parseExposition(text), label).toThrow(ExpositionError);
  });
});

describe('GET /_discovery/metrics', () => {
  it('counts calls by outcome, their latency, retries and membership, in valid Prometheus text', async () => {
    const users = await startService('user-service', (app) => {
      app.get('/users/:id', (req, res) => (req.params.id === '404' ? void res.status(404).json({ error: 'no such user' }) : void res.json({ id: req.params.id })));
      app.get('/boom', (_req, res) => void res.status(500).json({ error: 'boom' }));
    });
    const orders = await startService('order-service', () => {}, { peers: [users.url] });
    await waitFor(() => upInstances(orders.micro, 'user-service').length === 1, 'order-service sees user-service');

    const before = await scrape(orders);
    for (const name of ['express_micro_calls_total', 'express_micro_call_duration_seconds', 'express_micro_retries_total', 'express_micro_instances', 'express_micro_probe_duration_seconds', 'express_micro_membership_changes_total']) {
      expect(before.has(name), name).toBe(true);
    }
    expect(before.get('express_micro_calls_total')?.type).toBe('counter');
    expect(before.get('express_micro_call_duration_seconds')?.type).toBe('histogram');
    expect(before.get('express_micro_instances')?.type).toBe('gauge');
    expect(sampleValue(before, 'express_micro_calls_total')).toBe(0);
    expect(sampleValue(before, 'express_micro_membership_changes_total', { event: 'discovered' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(before, 'express_micro_membership_changes_total', { event: 'up' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(before, 'express_micro_instances', { service: 'user-service', status: 'up' })).toBe(1);

    const { services } = orders.micro;
    for (let index = 0; index < 3; index++) await services.userService.getUser({ id: index });
    await expect(services.userService.getUser({ id: 404 })).rejects.toMatchObject({ status: 404 });
    await expect(services.userService.getBoom()).rejects.toMatchObject({ status: 500 });

    const after = await scrape(orders);
    const calls = (call: string, outcome: string) => sampleValue(after, 'express_micro_calls_total', { service: 'user-service', call, outcome });
    expect(calls('getUser', 'ok')).toBe(3);
    expect(calls('getUser', 'client_error')).toBe(1);
    expect(calls('getBoom', 'server_error')).toBe(1);
    expect(calls('getBoom', 'ok')).toBe(0);
    expect(sampleValue(after, 'express_micro_call_duration_seconds_count', { service: 'user-service', call: 'getUser' })).toBe(4);
    expect(sampleValue(after, 'express_micro_call_duration_seconds_bucket', { service: 'user-service', call: 'getUser', le: '+Inf' })).toBe(4);
    expect(sampleValue(after, 'express_micro_call_duration_seconds_sum', { service: 'user-service', call: 'getUser' })).toBeGreaterThan(0);
    expect(sampleValue(after, 'express_micro_call_duration_seconds_count', { service: 'user-service', call: 'getBoom' })).toBe(1);

    // The probes between the two run every 200 ms; each acknowledged one is timed.
    await waitFor(async () => sampleValue(await scrape(orders), 'express_micro_probe_duration_seconds_count') > 0, 'a timed probe');
    const peer = orders.micro.peers().find((instance) => instance.service === 'user-service');
    await waitFor(() => orders.micro.peers().some((instance) => instance.service === 'user-service' && typeof instance.roundTripMs === 'number'), 'a round trip in peers()');
    expect(peer?.ejected).toBe(false);
    const view = (await (await discovery(orders.url, '/services')).json()) as {
      thisService: { id: string; name: string };
      connectedPeers: Record<string, { instances: { roundTripMs: number | null; ejected: boolean }[] }>;
    };
    expect(view.thisService.name).toBe('order-service');
    expect(view.thisService.id).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    const listed = view.connectedPeers['user-service']?.instances[0];
    expect(listed?.ejected).toBe(false);
    expect(typeof listed?.roundTripMs).toBe('number');
    expect(listed?.roundTripMs).toBeGreaterThanOrEqual(0);
  });

  it('counts a refused connection as connection_error, and its retries', async () => {
    const orders = await startService('order-service');
    await registerGhost(orders, 0);
    await registerGhost(orders, 1);
    await expect(orders.micro.services.ghostService.getGhost()).rejects.toThrow();
    const after = await scrape(orders);
    expect(sampleValue(after, 'express_micro_calls_total', { service: 'ghost-service', call: 'getGhost', outcome: 'connection_error' })).toBe(1);
    expect(sampleValue(after, 'express_micro_calls_total', { service: 'ghost-service', call: 'getGhost' })).toBe(1);
    // One retry, to the other ghost (free of the budget after a refused connection); retries: 2
    // would allow another, but an instance that refused is not tried again in the same call.
    expect(sampleValue(after, 'express_micro_retries_total', { service: 'ghost-service', reason: 'connection' })).toBe(1);
    expect(sampleValue(after, 'express_micro_call_duration_seconds_count', { service: 'ghost-service', call: 'getGhost' })).toBe(1);
  });

  it('counts retries on a retryOn answer under reason="status"', async () => {
    const define = (status: number) => (app: import('express').Express) => void app.get('/flaky', (_req, res) => void res.status(status).json({ status }));
    const good = await startService('flaky-service', define(200));
    const bad = await startService('flaky-service', define(503), { peers: [good.url] });
    const caller = await startService('caller', () => {}, { peers: [good.url], outlierDetection: false, balancer: 'round-robin' });
    await waitFor(() => upInstances(caller.micro, 'flaky-service').length === 2 && upInstances(bad.micro, 'flaky-service').length === 1, 'two flaky instances');
    // Round robin: within two calls one goes to the 503 instance first and is retried on the other.
    let made = 0;
    await waitFor(async () => {
      await caller.micro.services.flakyService.getFlaky();
      made++;
      return sampleValue(await scrape(caller), 'express_micro_retries_total', { service: 'flaky-service', reason: 'status' }) > 0 || made >= 10;
    }, 'a retried 503');
    const after = await scrape(caller);
    expect(sampleValue(after, 'express_micro_retries_total', { service: 'flaky-service', reason: 'status' })).toBeGreaterThan(0);
    expect(sampleValue(after, 'express_micro_calls_total', { service: 'flaky-service', call: 'getFlaky', outcome: 'ok' })).toBe(made);
    expect(sampleValue(after, 'express_micro_call_duration_seconds_count', { service: 'flaky-service', call: 'getFlaky' })).toBe(made);
  });

  it('follows instances by status and counts membership changes when one closes', async () => {
    const first = await startService('user-service');
    const second = await startService('user-service', () => {}, { peers: [first.url] });
    const watcher = await startService('watcher', () => {}, { peers: [first.url] });
    await waitFor(() => upInstances(watcher.micro, 'user-service').length === 2, 'watcher sees both');
    const before = await scrape(watcher);
    expect(sampleValue(before, 'express_micro_instances', { service: 'user-service', status: 'up' })).toBe(2);
    expect(sampleValue(before, 'express_micro_instances', { service: 'watcher', status: 'up' })).toBe(1);
    for (const status of ['suspect', 'down', 'ejected']) expect(sampleValue(before, 'express_micro_instances', { service: 'user-service', status })).toBe(0);
    const removed = sampleValue(before, 'express_micro_membership_changes_total', { event: 'removed' });
    await second.stop();
    await waitFor(async () => sampleValue(await scrape(watcher), 'express_micro_instances', { service: 'user-service', status: 'up' }) === 1, 'one user-service instance left');
    const after = await scrape(watcher);
    expect(sampleValue(after, 'express_micro_membership_changes_total', { event: 'removed' })).toBe(removed + 1);
  });

  it('answers the JSON of micro.metrics() when asked for application/json, and refuses other methods', async () => {
    // A lone service that never probes: nothing changes between the two reads.
    const lone = await startService('lone-service', (app) => void app.get('/hello', (_req, res) => void res.json('hi')), { pingInterval: 60_000 });
    await lone.micro.services.loneService.getHello();
    const response = await discovery(lone.url, '/metrics', { headers: { accept: 'application/json' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    const json = (await response.json()) as Metrics;
    expect(json).toEqual(lone.micro.metrics());
    expect(json.express_micro_calls_total?.samples).toEqual([{ labels: { service: 'lone-service', call: 'getHello', outcome: 'ok' }, value: 1 }]);
    // The text says the same.
    const text = await scrape(lone);
    expect(sampleValue(text, 'express_micro_calls_total', { service: 'lone-service', call: 'getHello', outcome: 'ok' })).toBe(1);
    for (const method of ['POST', 'PUT', 'DELETE']) expect((await discovery(lone.url, '/metrics', { method })).status, method).toBe(405);
  });

  it('needs the same credentials as the other discovery endpoints', async () => {
    const service = await startService('guarded');
    for (const bearer of [false, 'wrong', `${SECRET}x`, ''] as const) {
      const response = await discovery(service.url, '/metrics', { bearer });
      expect(response.status, String(bearer)).toBe(401);
      expect(await response.text()).not.toContain('express_micro_');
    }
    const walled = await startService('walled', () => {}, { ipWhitelist: ['10.0.0.0/8'] });
    expect((await discovery(walled.url, '/metrics')).status).toBe(403);
  });

  it('in an HMAC cluster: refuses the Bearer secret, accepts a signed scrape once, refuses its replay', async () => {
    const service = await startService('signed', () => {}, { enableHmac: true });
    expect((await discovery(service.url, '/metrics')).status).toBe(401);
    const signed = signRequest(SECRET, 'GET', '/_discovery/metrics', undefined);
    const first = await discovery(service.url, '/metrics', { bearer: false, headers: signed });
    expect(first.status).toBe(200);
    parseExposition(await first.text());
    expect((await discovery(service.url, '/metrics', { bearer: false, headers: signed })).status).toBe(401);
    expect((await discovery(service.url, '/metrics', { bearer: false, headers: signRequest('another-secret-of-enough-length!!', 'GET', '/_discovery/metrics', undefined) })).status).toBe(401);
    expect((await discovery(service.url, '/metrics', { bearer: false, headers: signRequest(SECRET, 'GET', '/_discovery/services', undefined) })).status).toBe(401);
  });
});
