// Events over the cluster transport (docs/events.md): emit reaches each subscribing group once,
// broadcast every subscribing instance; deliveries are authenticated and validated; a slow
// handler holds up neither probes nor calls.
import { afterEach, describe, expect, it } from 'vitest';
import expressMicro, { EventError, OptionError, type EventMeta, type ExpressMicro } from '../../src/index.ts';
import { signRequest } from '../../src/security/index.ts';
import { discovery, SECRET, startService, stopAll, waitFor, type TestService } from '../helpers.ts';

afterEach(stopAll);

/** Whether `micro`'s table shows `count` UP instances subscribing to `event`. */
function subscribers(micro: ExpressMicro, event: string): number {
  return micro.peers().filter((peer) => peer.status === 'UP' && peer.events.some((each) => each.event === event)).length;
}

/** A service whose instances record what they receive. */
async function receiver(service: string, seed: string | undefined, event: string, options: Record<string, unknown> = {}, group?: string) {
  const received: { payload: unknown; meta: EventMeta }[] = [];
  const instance = await startService(service, (_app, micro) => {
    micro.subscribe(event, (payload, meta) => void received.push({ payload, meta }), group === undefined ? undefined : { group });
  }, { peers: seed ? [seed] : [], ...options });
  return { instance, received };
}

describe('events over the cluster', () => {
  it('emit reaches each subscribing group once, on one of its instances; broadcast reaches every instance', async () => {
    const orders = await startService('order-service', (app) => app.get('/ping', (_req, res) => res.json({ ok: true })));
    const emailA = await receiver('email-service', orders.url, 'order.created');
    const emailB = await receiver('email-service', orders.url, 'order.created');
    const stock = await receiver('stock-service', orders.url, 'order.created');
    await waitFor(() => subscribers(orders.micro, 'order.created') === 3, 'three subscribers in the emitter table', 10_000);

    const results = [];
    for (let index = 0; index < 20; index++) results.push(await orders.micro.emit('order.created', { order: index }));
    for (const result of results) {
      expect(result.failed).toEqual([]);
      expect(result.accepted.map((each) => each.group).sort()).toEqual(['email-service', 'stock-service']);
    }
    await waitFor(() => emailA.received.length + emailB.received.length === 20 && stock.received.length === 20, 'every delivery handled');
    // Each group once per emit, and the email group's work shared by both instances.
    const emailOrders = [...emailA.received, ...emailB.received].map((each) => (each.payload as { order: number }).order).sort((a, b) => a - b);
    expect(emailOrders).toEqual(Array.from({ length: 20 }, (_, index) => index));
    expect(emailA.received.length).toBeGreaterThan(0);
    expect(emailB.received.length).toBeGreaterThan(0);
    const meta = stock.received[0]?.meta as EventMeta;
    expect(meta).toMatchObject({ event: 'order.created', emitter: 'order-service', attempt: 1, group: 'stock-service' });
    expect(meta.id).toBe(results[0]?.id);

    const broadcast = await orders.micro.broadcast('order.created', { order: 'all' });
    expect(broadcast.accepted).toHaveLength(3);
    expect(broadcast.accepted.every((each) => each.group === undefined)).toBe(true);
    await waitFor(() => [emailA, emailB, stock].every((each) => each.received.some((entry) => (entry.payload as { order: unknown }).order === 'all')), 'the broadcast on every instance');
    for (const each of [emailA, emailB, stock]) expect(each.received.filter((entry) => (entry.payload as { order: unknown }).order === 'all')).toHaveLength(1);
  }, 30_000);

  it('a group shared by two services gets each emit once; nobody subscribed resolves empty', async () => {
    const orders = await startService('order-service');
    const audit = await receiver('audit-service', orders.url, 'order.paid', {}, 'ledger');
    const billing = await receiver('billing-service', orders.url, 'order.paid', {}, 'ledger');
    await waitFor(() => subscribers(orders.micro, 'order.paid') === 2, 'two subscribers', 10_000);
    for (let index = 0; index < 10; index++) {
      const result = await orders.micro.emit('order.paid', index);
      expect(result.accepted).toHaveLength(1);
      expect(result.accepted[0]?.group).toBe('ledger');
    }
    await waitFor(() => audit.received.length + billing.received.length === 10, 'ten deliveries');
    expect(await orders.micro.emit('nobody.listens', 1)).toMatchObject({ accepted: [], failed: [] });
  }, 30_000);

  it('the emitter itself subscribes: its own handler runs, with the payload as JSON carries it', async () => {
    const seen: unknown[] = [];
    const solo = await startService('solo-service', (_app, micro) => micro.subscribe('tick', (payload) => void seen.push(payload)));
    const payload = { at: new Date(0), n: 1 };
    const result = await solo.micro.emit('tick', payload);
    expect(result.accepted).toEqual([{ group: 'solo-service', service: 'solo-service', instance: solo.url }]);
    await waitFor(() => seen.length === 1, 'the local delivery');
    expect(seen[0]).toEqual({ at: '1970-01-01T00:00:00.000Z', n: 1 });
  });

  it('carries the trace of the request the emitter was serving', async () => {
    const email = await receiver('email-service', undefined, 'order.created');
    const orders = await startService('order-service', (app, micro) => {
      app.post('/orders', (_req, res) => {
        void micro.emit('order.created', { id: 1 }).then((result) => res.json(result));
      });
    }, { peers: [email.instance.url] });
    await waitFor(() => subscribers(orders.micro, 'order.created') === 1, 'the subscriber', 10_000);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const answer = await fetch(`${orders.url}/orders`, { method: 'POST', headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=1' } });
    expect(((await answer.json()) as { accepted: unknown[] }).accepted).toHaveLength(1);
    await waitFor(() => email.received.length === 1, 'the delivery');
    const meta = email.received[0]?.meta as EventMeta;
    expect(meta.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(meta.traceparent).not.toContain('00f067aa0ba902b7');
    expect(meta.tracestate).toBe('vendor=1');
    // Outside a traced request there is none.
    await orders.micro.emit('order.created', { id: 2 });
    await waitFor(() => email.received.length === 2, 'the second delivery');
    expect(email.received[1]?.meta.traceparent).toBeUndefined();
  }, 20_000);

  it('moves a delivery that cannot connect to another instance of the group', async () => {
    const orders = await startService('order-service', () => {}, { outlierDetection: false });
    const first = await receiver('email-service', orders.url, 'mail.send');
    const second = await receiver('email-service', orders.url, 'mail.send');
    await waitFor(() => subscribers(orders.micro, 'mail.send') === 2, 'two subscribers', 10_000);
    // Gone without a word (no leave): the emitter's table still has it UP.
    first.instance.server.closeAllConnections?.();
    await new Promise<void>((resolve) => first.instance.server.close(() => resolve()));
    const results = await Promise.all(Array.from({ length: 6 }, (_, index) => orders.micro.emit('mail.send', index)));
    for (const result of results) {
      expect(result.failed).toEqual([]);
      expect(result.accepted[0]?.instance).toBe(second.instance.url);
    }
    await waitFor(() => second.received.length === 6, 'all six on the live instance');
    await first.instance.micro.close();
  }, 30_000);

  it('unsubscribe takes the instance out of the group at the emitter', async () => {
    const orders = await startService('order-service');
    const received: string[] = [];
    let stop: () => void = () => {};
    const leaving = await startService('email-service', (_app, micro) => {
      stop = micro.subscribe('mail.send', () => void received.push('leaving'));
    }, { peers: [orders.url] });
    await receiver('email-service', orders.url, 'mail.send');
    await waitFor(() => subscribers(orders.micro, 'mail.send') === 2, 'two subscribers', 10_000);
    stop();
    await waitFor(() => subscribers(orders.micro, 'mail.send') === 1, 'one subscriber left', 10_000);
    const results = await Promise.all(Array.from({ length: 10 }, (_, index) => orders.micro.emit('mail.send', index)));
    expect(results.every((result) => result.accepted.length === 1 && result.accepted[0]?.instance !== leaving.url)).toBe(true);
    expect(received).toEqual([]);
  }, 20_000);

  it('refuses bad names and payloads before sending anything', async () => {
    const solo = await startService('solo-service');
    expect(() => solo.micro.subscribe('bad name!', () => {})).toThrow(OptionError);
    expect(() => solo.micro.subscribe('', () => {})).toThrow(OptionError);
    expect(() => solo.micro.subscribe('ok', () => {}, { group: '../x' })).toThrow(OptionError);
    expect(() => solo.micro.subscribe('ok', 'not a function' as never)).toThrow(OptionError);
    await expect(solo.micro.emit('x'.repeat(101), 1)).rejects.toThrow(OptionError);
    await expect(solo.micro.emit('big', 'x'.repeat(300_000))).rejects.toMatchObject({ name: 'EventError', reason: 'too-large' });
    await expect(solo.micro.emit('big', 10n)).rejects.toMatchObject({ name: 'EventError', reason: 'invalid' });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await expect(solo.micro.broadcast('cycle', cycle)).rejects.toBeInstanceOf(EventError);
    expect(() => expressMicro((() => {}) as never)).toThrow(OptionError);
  });

  it('publishes subscriptions in /_discovery/services, peers() and the metrics', async () => {
    const orders = await startService('order-service');
    const email = await receiver('email-service', orders.url, 'order.created');
    await waitFor(() => subscribers(orders.micro, 'order.created') === 1, 'the subscriber', 10_000);
    const view = (await (await discovery(orders.url, '/services')).json()) as { connectedPeers: Record<string, { instances: { events: unknown }[] }> };
    expect(view.connectedPeers['email-service']?.instances[0]?.events).toEqual([{ event: 'order.created', group: 'email-service' }]);
    await orders.micro.emit('order.created', 1);
    await waitFor(() => email.received.length === 1, 'the delivery');
    const emitted = orders.micro.metrics().express_micro_events_total?.samples ?? [];
    expect(emitted).toContainEqual({ labels: { event: 'order.created', group: '', outcome: 'emitted' }, value: 1 });
    await waitFor(() => (email.instance.micro.metrics().express_micro_events_total?.samples ?? []).some((sample) => sample.labels.outcome === 'delivered' && 'value' in sample && sample.value === 1), 'delivered counted');
  }, 20_000);

  it('a slow handler holds up neither calls nor probes; a full queue sends the emitter elsewhere', async () => {
    const orders = await startService('order-service');
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const slow = await startService('email-service', (app, micro) => {
      app.get('/health', (_req, res) => res.json({ ok: true }));
      micro.subscribe('mail.send', async () => {
        started++;
        await held;
      });
    }, { peers: [orders.url], events: { maxInFlight: 1, maxQueued: 1 } });
    const other = await receiver('email-service', orders.url, 'mail.send');
    await waitFor(() => subscribers(orders.micro, 'mail.send') === 2, 'two subscribers', 10_000);
    const results = await Promise.all(Array.from({ length: 10 }, (_, index) => orders.micro.emit('mail.send', index)));
    expect(results.every((result) => result.failed.length === 0)).toBe(true);
    // One running and one waiting on the slow instance at most; the rest went to the other.
    expect(other.received.length + started).toBeGreaterThanOrEqual(8);
    await waitFor(() => other.received.length >= 8, 'the rest on the other instance');
    expect(await (orders.micro.services as unknown as Record<string, Record<string, () => Promise<unknown>>>).emailService?.getHealth?.()).toEqual({ ok: true });
    expect(orders.micro.peers().find((peer) => peer.url === slow.url)?.status).toBe('UP');
    release();
  }, 30_000);
});

describe('event deliveries are authenticated and checked', () => {
  const body = JSON.stringify({ id: 'e0123456789abcdef', event: 'mail.send', emitter: 'order-service', from: 'i0123456789abcdef', time: Date.now(), payload: { to: 'x' } });
  const post = (target: TestService, query: string, init: { bearer?: string | false; body?: string; headers?: Record<string, string> } = {}) =>
    discovery(target.url, `/events?${query}`, { method: 'POST', body: init.body ?? body, headers: { 'content-type': 'application/json', ...init.headers }, bearer: init.bearer });

  it('Bearer: missing or wrong token 401; malformed 400; oversized 413; unknown group 404; accepted 202', async () => {
    const email = await receiver('email-service', undefined, 'mail.send');
    expect((await post(email.instance, 'group=email-service', { bearer: false })).status).toBe(401);
    expect((await post(email.instance, 'group=email-service', { bearer: 'wrong-secret-0123456789abcdef' })).status).toBe(401);
    expect((await post(email.instance, 'group=email-service', { body: '{"id":1}' })).status).toBe(400);
    expect((await post(email.instance, 'group=email-service', { body: 'not json' })).status).toBe(400);
    expect((await post(email.instance, 'group=../x')).status).toBe(400);
    expect((await post(email.instance, '')).status).toBe(400);
    expect((await post(email.instance, 'group=email-service', { body: JSON.stringify({ pad: 'x'.repeat(1_100_000) }) })).status).toBe(413);
    expect((await post(email.instance, 'group=other-group')).status).toBe(404);
    expect(email.received).toHaveLength(0);
    expect((await post(email.instance, 'group=email-service')).status).toBe(202);
    await waitFor(() => email.received.length === 1, 'the accepted delivery handled');
  });

  it('HMAC: unsigned, signed for another instance, altered and replayed deliveries are refused', async () => {
    const email = await receiver('email-service', undefined, 'mail.send', { enableHmac: true });
    const id = email.instance.micro.peers().find((peer) => peer.self)?.id as string;
    const path = '/_discovery/events?group=email-service';
    const send = (headers: Record<string, string>, payload = body) => fetch(email.instance.url + path, { method: 'POST', body: payload, headers: { 'content-type': 'application/json', ...headers } });
    expect((await send({ authorization: `Bearer ${SECRET}` })).status).toBe(401);
    expect((await send(signRequest(SECRET, 'POST', path, body, undefined, 'another-instance-id'))).status).toBe(401);
    expect((await send(signRequest(SECRET, 'POST', path, body, undefined, id), body.replace('"x"', '"y"'))).status).toBe(401);
    const signed = signRequest(SECRET, 'POST', path, body, undefined, id);
    expect((await send(signed)).status).toBe(202);
    expect((await send(signed)).status).toBe(401);
    await waitFor(() => email.received.length === 1, 'exactly the one signed delivery');
    // And the real path, signed by an emitter in the same cluster.
    const orders = await startService('order-service', () => {}, { enableHmac: true, peers: [email.instance.url] });
    await waitFor(() => subscribers(orders.micro, 'mail.send') === 1, 'the subscriber', 10_000);
    expect((await orders.micro.emit('mail.send', 2)).accepted).toHaveLength(1);
    await waitFor(() => email.received.length === 2, 'the signed emit');
  }, 20_000);
});
