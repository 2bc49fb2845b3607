import express from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import expressMicro from '../../src/index.ts';
import { discovery, killAll, SECRET, spawnService, startService, stopAll, upInstances, waitFor } from '../helpers.ts';

afterEach(async () => {
  await stopAll();
  await killAll();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('discovery', () => {
  it('teaches a joiner the whole cluster through one seed, in both directions', async () => {
    const seed = await startService('seed-service');
    const b = await startService('b-service', () => {}, { peers: [seed.url] });
    const c = await startService('c-service', () => {}, { peers: [seed.url] });
    await waitFor(
      () =>
        upInstances(b.micro, 'c-service').length === 1 &&
        upInstances(c.micro, 'b-service').length === 1 &&
        upInstances(seed.micro, 'b-service').length === 1 &&
        upInstances(seed.micro, 'c-service').length === 1,
      'every member sees every other',
    );
    expect(upInstances(c.micro, 'seed-service')).toEqual([seed.url]);
  });

  it('resolves ready after the first join round', async () => {
    const seed = await startService('seed-service');
    const b = await startService('b-service', () => {}, { peers: [seed.url] });
    await b.micro.ready;
    expect(upInstances(b.micro, 'seed-service')).toEqual([seed.url]);
  });

  it('keeps retrying a seed that is not up yet', async () => {
    const port = await freePort();
    const b = await startService('b-service', () => {}, { peers: [`http://127.0.0.1:${port}`] });
    await b.micro.ready;
    expect(upInstances(b.micro, 'seed-service')).toEqual([]);
    const seed = await startService('seed-service', () => {}, {}, port);
    await waitFor(() => upInstances(b.micro, 'seed-service').length === 1 && upInstances(seed.micro, 'b-service').length === 1, 'late seed joined');
  });

  it('re-learns a peer that restarted at the same address', async () => {
    const first = await spawnService('user-service');
    const b = await startService('b-service', () => {}, { peers: [first.url] });
    await waitFor(() => upInstances(b.micro, 'user-service').length === 1, 'user-service seen');
    const firstId = b.micro.peers().find((peer) => peer.service === 'user-service')?.id;
    await first.kill();
    await waitFor(() => upInstances(b.micro, 'user-service').length === 0, 'user-service DOWN');
    const second = await spawnService('user-service', {}, first.port);
    await waitFor(() => {
      const instances = b.micro.peers().filter((peer) => peer.service === 'user-service');
      return instances.length === 1 && instances[0]!.status === 'UP' && instances[0]!.id !== firstId;
    }, 'restarted user-service replaces the old instance');
    expect(await b.micro.services.userService.getUser({ id: 3 })).toEqual({ id: '3', port: second.port });
  });

  it('balances calls round-robin across the UP instances of one service with balancer: round-robin', async () => {
    const one = await spawnService('user-service');
    const two = await spawnService('user-service', { peers: [one.url] });
    const client = await startService('order-service', () => {}, { peers: [one.url], balancer: 'round-robin' });
    await waitFor(() => upInstances(client.micro, 'user-service').length === 2, 'two user-service instances');
    const ports = new Set<number>();
    for (let index = 0; index < 10; index++) ports.add(((await client.micro.services.userService.getWhoami()) as { port: number }).port);
    expect(ports).toEqual(new Set([one.port, two.port]));
  });

  it('fails over to another instance when one dies, without a failed GET', async () => {
    const one = await spawnService('user-service');
    const two = await spawnService('user-service', { peers: [one.url] });
    const client = await startService('order-service', () => {}, { peers: [one.url], pingInterval: 5000 });
    await waitFor(() => upInstances(client.micro, 'user-service').length === 2, 'two user-service instances');
    await two.kill();
    // The health round is 5 s away. Six calls at once: the first takes either instance, and the
    // second the other (a new instance with a call out is priced after every other), so the dead
    // one is met for sure. One after another it was not: an instance already answering can win
    // every draw of two, and the dead one went untried (seen once on Bun).
    const answers = await Promise.all(Array.from({ length: 6 }, () => client.micro.services.userService.getWhoami()));
    expect(answers).toEqual(Array.from({ length: 6 }, () => ({ port: one.port, service: 'user-service' })));
    // The failed connection took it out of the rotation at once (suspected, probed out of turn),
    // without waiting for the probe round.
    const trusted = client.micro.peers().filter((peer) => peer.service === 'user-service' && peer.status === 'UP' && !peer.suspect);
    expect(trusted.map((peer) => peer.url)).toEqual([one.url]);
  });

  it('drops a member at once when it leaves with close()', async () => {
    const seed = await startService('seed-service');
    const b = await startService('b-service', () => {}, { peers: [seed.url], pingInterval: 5000 });
    await waitFor(() => upInstances(seed.micro, 'b-service').length === 1, 'b joined');
    const removed: string[] = [];
    seed.micro.on('removed', (instance) => removed.push(instance.service));
    await b.stop();
    expect(removed).toEqual(['b-service']);
    expect(seed.micro.peers().map((peer) => peer.service)).toEqual(['seed-service']);
  });

  it('does not let a message already on its way bring a member back after it left', async () => {
    const seed = await startService('seed-service');
    // A member speaking the protocol by hand, so its register can arrive after its own leave, as
    // an answer or a gossiped member list delayed on the network would.
    const self = { protocol: 2, name: 'late-service', id: 'late-service-0001', url: 'http://127.0.0.1:9', routes: [], rev: 'r1', incarnation: 0 };
    const register = () =>
      discovery(seed.url, '/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ self, members: [] }) });
    expect((await register()).status).toBe(200);
    expect(seed.micro.peers().some((peer) => peer.id === self.id)).toBe(true);
    const leave = await discovery(seed.url, '/leave', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: self.id }) });
    expect(leave.status).toBe(200);
    expect(seed.micro.peers().some((peer) => peer.id === self.id)).toBe(false);
    const events: string[] = [];
    seed.micro.on('up', (instance) => events.push(instance.id));
    expect((await register()).status).toBe(200);
    expect(seed.micro.peers().some((peer) => peer.id === self.id)).toBe(false);
    expect(events).toEqual([]);
  });

  it('tells a seed it leaves even while its first register with that seed is still in flight', async () => {
    const seed = await startService('seed-service');
    const b = await startService('b-service', () => {}, { peers: [seed.url], pingInterval: 5000 });
    // Closed at once: the seed may have added b from its register while b has not read the answer.
    await b.stop();
    expect(upInstances(seed.micro, 'b-service')).toEqual([]);
  });

  it('is not taken in again by a member that describes or registers with it after it left', async () => {
    const seed = await startService('seed-service');
    const old = await startService('old-service', () => {}, { peers: [seed.url] });
    await waitFor(() => upInstances(seed.micro, 'old-service').length === 1, 'old joined');
    // Its goodbyes are out and its server still answers, as in a deploy's last second: a newcomer
    // that heard of it a moment earlier (from a member list sent before the leave) asks it now.
    await old.micro.close();
    const self = { protocol: 2, name: 'late-service', id: 'late-service-0001', url: 'http://127.0.0.1:9', routes: [], rev: 'r1', incarnation: 0 };
    for (const [path, body] of [['/describe', { self }], ['/register', { self, members: [] }]] as const) {
      const answer = await discovery(old.url, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(answer.status, path).toBe(503);
      expect(await answer.json(), path).toEqual({ error: 'leaving' });
    }
    // A newcomer given it as its first seed joins through the other and never lists it.
    const newcomer = await startService('new-service', () => {}, { peers: [old.url, seed.url] });
    await waitFor(() => upInstances(newcomer.micro, 'seed-service').length === 1, 'the newcomer joined through the seed');
    expect(newcomer.micro.peers().map((peer) => peer.service).sort()).toEqual(['new-service', 'seed-service']);
  });

  it('serves the seed format on GET /_discovery/services, with every instance and no secret', async () => {
    const seed = await startService('user-service', (app) => {
      app.get('/users/:id', (_req, res) => res.json({}));
    });
    const other = await startService('order-service', (app) => {
      app.post('/orders', function placeOrder(_req, res) {
        res.json({});
      });
    }, { peers: [seed.url] });
    await waitFor(() => upInstances(seed.micro, 'order-service').length === 1, 'joined');
    const response = await discovery(seed.url, '/services');
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain(SECRET);
    const body = JSON.parse(text);
    // No labels given: only the version npm_package_version supplies, when the test runner sets it.
    const labels = process.env.npm_package_version ? { version: process.env.npm_package_version } : {};
    expect(body.thisService).toEqual({ name: 'user-service', id: seed.micro.peers().find((peer) => peer.self)?.id, url: seed.url, routes: [{ method: 'GET', path: '/users/:id', names: ['getUser'] }], metadata: labels, zone: null, events: [] });
    const peer = body.connectedPeers['order-service'];
    expect(peer).toMatchObject({ url: other.url, status: 'UP', routes: [{ method: 'POST', path: '/orders', names: ['placeOrder', 'createOrder'] }] });
    expect(peer.instances).toEqual([{ id: expect.any(String), url: other.url, status: 'UP', suspect: false, incarnation: 0, lastSeen: expect.any(Number), roundTripMs: peer.instances[0].roundTripMs, ejected: false, metadata: labels, zone: null, events: [] }]);
    // The last direct-probe round trip from the seed: null until the seed has probed it.
    expect(peer.instances[0].roundTripMs === null || (typeof peer.instances[0].roundTripMs === 'number' && peer.instances[0].roundTripMs >= 0)).toBe(true);
  });

  it('learns the port from app.listen() called after expressMicro(), and from an explicit port', async () => {
    const app = express();
    const micro = expressMicro(app, { serviceName: 'late-listener', host: '127.0.0.1', secret: SECRET, logger: false });
    expect(micro.url).toBeUndefined();
    const server: Server = app.listen(0, '127.0.0.1');
    await waitFor(() => micro.url === `http://127.0.0.1:${(server.address() as AddressInfo | null)?.port}`, 'port learned');
    await micro.close();
    await new Promise((resolve) => server.close(resolve));

    const port = await freePort();
    const other = express();
    const explicit = expressMicro(other, { serviceName: 'explicit-port', host: '127.0.0.1', port, secret: SECRET, logger: false });
    const plain = createServer(other).listen(port, '127.0.0.1');
    await waitFor(() => explicit.url === `http://127.0.0.1:${port}`, 'explicit port used');
    await explicit.close();
    await new Promise((resolve) => plain.close(resolve));
  });

  it('closes itself when the server that app.listen() returned closes', async () => {
    const seed = await startService('seed-service');
    const b = await startService('b-service', () => {}, { peers: [seed.url], pingInterval: 5000 });
    await waitFor(() => upInstances(seed.micro, 'b-service').length === 1, 'b joined');
    b.server.closeAllConnections();
    b.server.close();
    await waitFor(() => upInstances(seed.micro, 'b-service').length === 0, 'b left when its server closed');
  });

  it('lets the process exit after close(): no timer or socket keeps it alive', async () => {
    const seed = await startService('seed-service');
    const child = await spawnService('user-service', { peers: [seed.url] });
    await waitFor(() => upInstances(seed.micro, 'user-service').length === 1, 'child joined');
    let output = '';
    child.child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<string>((resolve) => child.child.once('exit', () => resolve('exited')));
    child.child.kill('SIGTERM');
    // The fixture's SIGTERM handler only closes; the process must then end on its own, and say
    // so with its own exit code (not be ended by the signal).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running after 5000 ms'), 5000)));
    expect(await Promise.race([exited, bound])).toBe('exited');
    clearTimeout(timer);
    expect(output).toContain('EXIT 0\n');
    expect(upInstances(seed.micro, 'user-service')).toEqual([]);
  });
});
