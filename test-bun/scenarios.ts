/**
 * The core behaviours every runtime must show, written once without a test runner so that the
 * Bun suite (`bun test ./test-bun`, on the TypeScript source) and the Deno suite (`deno test`,
 * on the built package) run exactly the same checks. Each scenario is an async function that
 * throws (node:assert) on failure and cleans up everything it started, even when it fails.
 *
 * Rules they follow: real Express servers on 127.0.0.1 port 0 (or a port probed free on
 * 127.0.0.1), an explicit `host` and `secret` (except the secret-file scenario, which points the
 * OS temp folder at a private directory first), `logger: false`, `pingInterval: 200`, and no
 * fixed sleeps: every wait polls a condition with a deadline.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { upInstances, waitFor } from '../test/support/conditions.ts';
// Types only: the implementation under test is passed in (source on Bun, dist on Deno).
import type { ExpressMicro, ExpressMicroFunction, ExpressMicroOptions } from '../src/index.ts';

export { upInstances, waitFor };

/** The secret the scenarios' clusters share. */
export const SECRET = 'runtime-suite-secret-0123456789abcdef';
const PING = 200;

/** One named check. */
export interface Scenario {
  name: string;
  run(): Promise<void>;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  // Drop keep-alive connections too, or close() waits for peers' pooled sockets to idle out.
  (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await listen(probe, 0);
  const { port } = probe.address() as AddressInfo;
  await closeServer(probe);
  return port;
}

interface Started {
  app: express.Express;
  micro: ExpressMicro;
  url: string;
}

/** Everything one scenario starts, stopped in reverse order by `stop()`. */
class Cluster {
  private readonly stops: Array<() => Promise<void>> = [];
  constructor(private readonly expressMicro: ExpressMicroFunction) {}

  /** An Express app on 127.0.0.1 port 0 with express-micro on it (port learned from app.listen). */
  async service(serviceName: string, define: (app: express.Express) => void = () => {}, options: ExpressMicroOptions = {}): Promise<Started> {
    const app = express();
    const micro = this.expressMicro(app, { serviceName, host: '127.0.0.1', secret: SECRET, pingInterval: PING, logger: false, ...options });
    define(app);
    const server = await new Promise<Server>((resolve, reject) => {
      const listening: Server = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(listening)));
    });
    this.stops.push(async () => {
      await micro.close();
      await closeServer(server);
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await waitFor(() => micro.url === url, `${serviceName} learned its port`);
    return { app, micro, url };
  }

  /**
   * An app served by `http.createServer(app)` on an explicit port: closing that server leaves
   * the plugin running (it only closes with app.listen's server), so it can go silent and come back.
   */
  async detached(serviceName: string, options: ExpressMicroOptions, define: (app: express.Express) => void = () => {}) {
    const port = await freePort();
    const app = express();
    app.get('/ping-me', (_req, res) => void res.json({ ok: true }));
    define(app);
    const micro = this.expressMicro(app, { serviceName, host: '127.0.0.1', port, secret: SECRET, pingInterval: PING, logger: false, ...options });
    let server: Server | undefined;
    const start = async (): Promise<void> => {
      server = createServer(app);
      await listen(server, port);
    };
    const silence = async (): Promise<void> => {
      if (server) await closeServer(server);
      server = undefined;
    };
    this.stops.push(async () => {
      await micro.close();
      await silence();
    });
    await start();
    return { micro, url: `http://127.0.0.1:${port}`, start, silence };
  }

  /** Registers extra cleanup. */
  defer(stop: () => Promise<void> | void): void {
    this.stops.push(async () => stop());
  }

  async stop(): Promise<void> {
    const errors: unknown[] = [];
    for (const stop of this.stops.reverse()) await stop().catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw errors[0];
  }
}

/** Runs `body` with a fresh cluster and always stops what it started. */
async function withCluster(expressMicro: ExpressMicroFunction, body: (cluster: Cluster) => Promise<void>): Promise<void> {
  const cluster = new Cluster(expressMicro);
  try {
    await body(cluster);
  } finally {
    await cluster.stop();
  }
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, and it succeeded');
}

function userRoutes(app: express.Express): void {
  app.use(express.json());
  app.get('/users/:id', (req, res) => {
    if (req.params.id === '404') return void res.status(404).json({ error: 'no such user' });
    res.json({ id: req.params.id, query: req.query });
  });
  app.post('/api/users', (req, res) => void res.status(201).json({ created: req.body }));
  app.put('/users/:userId', (req, res) => void res.json({ updated: req.params.userId, body: req.body }));
  app.delete('/users/:id', (_req, res) => void res.status(204).end());
  app.get('/text', (_req, res) => void res.type('text/plain').send('plain words'));
}

/** Every core scenario, bound to one build of the library. */
export function scenarios(expressMicro: ExpressMicroFunction): Scenario[] {
  const scenario = (name: string, body: (cluster: Cluster) => Promise<void>): Scenario => ({
    name,
    run: () => withCluster(expressMicro, body),
  });

  return [
    scenario('discovery: a joiner and its seed see each other UP, and a third learns both from the seed', async (cluster) => {
      const seed = await cluster.service('seed-service');
      const b = await cluster.service('b-service', () => {}, { peers: [seed.url] });
      await b.micro.ready;
      await waitFor(() => upInstances(seed.micro, 'b-service').length === 1 && upInstances(b.micro, 'seed-service').length === 1, 'seed and b see each other');
      const c = await cluster.service('c-service', () => {}, { peers: [seed.url] });
      await waitFor(
        () => upInstances(c.micro, 'b-service').length === 1 && upInstances(b.micro, 'c-service').length === 1,
        'c and b learn each other through the seed',
      );
      assert.deepEqual(upInstances(c.micro, 'seed-service'), [seed.url]);
      assert.deepEqual(upInstances(c.micro, 'b-service'), [b.url]);
      assert.equal(c.micro.peers().filter((peer) => peer.self).length, 1);
    }),

    scenario('calls: params, query, JSON body, text, 204 and RemoteError', async (cluster) => {
      const users = await cluster.service('user-service', userRoutes);
      const orders = await cluster.service(
        'order-service',
        (app) => {
          app.use(express.json());
          app.get('/orders/:userId', (req, res) => void res.json([{ userId: req.params.userId, item: 'book' }]));
          app.post('/orders', (req, res) => void res.status(201).json({ order: req.body }));
        },
        { peers: [users.url] },
      );
      await waitFor(() => upInstances(orders.micro, 'user-service').length === 1 && upInstances(users.micro, 'order-service').length === 1, 'both UP');
      const { services } = orders.micro;
      assert.deepEqual(await services.userService.getUser({ id: 7 }), { id: '7', query: {} });
      assert.deepEqual(await services['user-service'].getUser({ id: 'a/b c?', fields: 'name', page: 2 }), { id: 'a/b c?', query: { fields: 'name', page: '2' } });
      assert.deepEqual(await services.userService.createUser({ name: 'Ada', tags: ['x'] }), { created: { name: 'Ada', tags: ['x'] } });
      assert.deepEqual(await services.userService.updateUser({ userId: 3, name: 'Bo' }), { updated: '3', body: { name: 'Bo' } });
      assert.equal(await services.userService.deleteUser({ id: 1 }), undefined);
      assert.equal(await services.userService.getText(), 'plain words');
      // The other direction.
      assert.deepEqual(await users.micro.services.orderService.getOrders({ userId: 9 }), [{ userId: '9', item: 'book' }]);
      assert.deepEqual(await users.micro.services.order_service.createOrder({ userId: 9, item: 'pen' }), { order: { userId: 9, item: 'pen' } });

      const remote = await caught(services.userService.getUser({ id: 404 }));
      assert.ok(remote instanceof expressMicro.RemoteError, `expected RemoteError, got ${String(remote)}`);
      assert.ok(remote instanceof expressMicro.ExpressMicroError);
      assert.equal(remote.status, 404);
      assert.deepEqual(remote.body, { error: 'no such user' });
      assert.match(remote.message, /\/users\/404/);
      assert.ok((await caught(services.userService.getUser({ name: 'x' }))) instanceof expressMicro.MissingParameterError);
      assert.ok((await caught(services.userService.getUsr({ id: 1 }))) instanceof expressMicro.RouteNotFoundError);
      assert.ok((await caught(services.paymentService.charge({}))) instanceof expressMicro.ServiceUnavailableError);
      // A 404 answer is an answer: the instance stays UP.
      assert.deepEqual(upInstances(orders.micro, 'user-service'), [users.url]);
    }),

    scenario('auth: /_discovery refuses a missing or wrong bearer with 401 and never shows the secret', async (cluster) => {
      const service = await cluster.service('guarded-service');
      const missing = await fetch(`${service.url}/_discovery/services`);
      assert.equal(missing.status, 401);
      await missing.body?.cancel();
      const wrong = await fetch(`${service.url}/_discovery/ping`, { method: 'POST', headers: { authorization: 'Bearer not-the-secret-at-all-0000', 'content-type': 'application/json' }, body: '{}' });
      assert.equal(wrong.status, 401);
      await wrong.body?.cancel();
      const right = await fetch(`${service.url}/_discovery/services`, { headers: { authorization: `Bearer ${SECRET}` } });
      assert.equal(right.status, 200);
      const text = await right.text();
      assert.ok(!text.includes(SECRET), 'the answer contains the secret');
      assert.equal(JSON.parse(text).thisService.name, 'guarded-service');
      // A peer with another secret never joins.
      const stranger = await cluster.service('stranger-service', () => {}, { peers: [service.url], secret: 'another-secret-0123456789abcdef' });
      await stranger.micro.ready;
      assert.deepEqual(upInstances(stranger.micro, 'guarded-service'), []);
      assert.deepEqual(upInstances(service.micro, 'stranger-service'), []);
    }),

    scenario('HMAC: signed discovery and calls work, a bearer-only request is refused', async (cluster) => {
      const hmac = { enableHmac: true };
      const users = await cluster.service('user-service', userRoutes, hmac);
      const orders = await cluster.service('order-service', () => {}, { ...hmac, peers: [users.url] });
      await waitFor(() => upInstances(orders.micro, 'user-service').length === 1 && upInstances(users.micro, 'order-service').length === 1, 'HMAC members UP');
      assert.deepEqual(await orders.micro.services.userService.getUser({ id: 5, q: 'x' }), { id: '5', query: { q: 'x' } });
      assert.deepEqual(await orders.micro.services.userService.createUser({ name: 'Signed' }), { created: { name: 'Signed' } });
      // In HMAC mode the bearer alone is not enough.
      const bearerOnly = await fetch(`${users.url}/_discovery/services`, { headers: { authorization: `Bearer ${SECRET}` } });
      assert.equal(bearerOnly.status, 401);
      await bearerOnly.body?.cancel();
      // A non-HMAC member cannot join an HMAC cluster.
      const plain = await cluster.service('plain-service', () => {}, { peers: [users.url] });
      await plain.micro.ready;
      assert.deepEqual(upInstances(plain.micro, 'user-service'), []);
    }),

    scenario('health: a service that stops answering goes DOWN, and UP again when it answers, one event each', async (cluster) => {
      const seed = await cluster.service('seed-service');
      const flaky = await cluster.detached('flaky-service', { peers: [seed.url] });
      const events: string[] = [];
      seed.micro.on('up', (instance) => void (instance.service === 'flaky-service' && events.push('up')));
      seed.micro.on('down', (instance) => void (instance.service === 'flaky-service' && events.push('down')));
      await waitFor(() => upInstances(seed.micro, 'flaky-service').length === 1, 'flaky UP');
      events.length = 0;
      await flaky.silence();
      await waitFor(() => upInstances(seed.micro, 'flaky-service').length === 0, 'flaky DOWN');
      assert.equal(seed.micro.peers().find((peer) => peer.service === 'flaky-service')?.status, 'DOWN');
      const unavailable = await caught(seed.micro.services.flakyService.getPingMe());
      assert.ok(unavailable instanceof expressMicro.ExpressMicroError, `expected an ExpressMicroError, got ${String(unavailable)}`);
      await flaky.start();
      await waitFor(() => upInstances(seed.micro, 'flaky-service').length === 1, 'flaky UP again');
      assert.deepEqual(await seed.micro.services.flakyService.getPingMe(), { ok: true });
      // Events fire once per change: one fall, one recovery.
      assert.deepEqual(events, ['down', 'up']);
    }),

    scenario('failover: a refused connection moves a call, even a POST, to the next instance and takes the dead one out of the rotation at once', async (cluster) => {
      // Long intervals: only the failed calls can take the dead instance out within this test.
      const slow = { pingInterval: 5000 };
      const one = await cluster.service('user-service', userRoutes);
      const two = await cluster.detached('user-service', { ...slow, peers: [one.url] }, userRoutes);
      await waitFor(() => upInstances(one.micro, 'user-service').length === 1, 'the two user-service instances see each other');
      const caller = await cluster.service('order-service', () => {}, { ...slow, peers: [one.url] });
      await waitFor(() => upInstances(caller.micro, 'user-service').length === 2, 'the caller sees both user-service instances');
      await two.silence();
      // The balancer picks at random between two equal instances: calls go on (every one must
      // succeed) until one has met the dead instance, been refused and moved on (4 calls were
      // not always enough: 1 run in 16 never met it). 60 misses in a row would be 1 in 2^60.
      const trusted = () => caller.micro.peers().filter((peer) => peer.service === 'user-service' && peer.status === 'UP' && !peer.suspect);
      for (let index = 0; index < 60 && trusted().length > 1; index++) {
        assert.deepEqual(await caller.micro.services.userService.createUser({ n: index }), { created: { n: index } });
      }
      // Suspected here (out of the rotation) and probed out of turn; DOWN comes with the suspicion bound.
      assert.deepEqual(trusted().map((peer) => peer.url), [one.url]);
      assert.deepEqual(await caller.micro.services.userService.getUser({ id: 1 }), { id: '1', query: {} });
    }),

    scenario('secret file: without a secret, services share a 0600 file in the OS temp folder', async (cluster) => {
      const folder = mkdtempSync(join(tmpdir(), 'express-micro-runtime-'));
      const saved = { TMPDIR: process.env.TMPDIR, KEY: process.env.EXPRESS_DISCOVERY_KEY };
      cluster.defer(() => {
        if (saved.TMPDIR === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = saved.TMPDIR;
        if (saved.KEY !== undefined) process.env.EXPRESS_DISCOVERY_KEY = saved.KEY;
        rmSync(folder, { recursive: true, force: true });
      });
      process.env.TMPDIR = folder;
      delete process.env.EXPRESS_DISCOVERY_KEY;
      assert.equal(tmpdir(), folder, 'os.tmpdir() does not follow TMPDIR on this runtime');
      const first = await cluster.service('first-service', () => {}, { secret: undefined });
      const files = readdirSync(folder).filter((file) => file.startsWith('express-micro-'));
      assert.equal(files.length, 1, `expected one secret file, found ${JSON.stringify(readdirSync(folder))}`);
      const stat = statSync(join(folder, files[0]!));
      if (typeof process.getuid === 'function') {
        assert.equal(stat.mode & 0o777, 0o600);
        assert.equal(stat.uid, process.getuid());
      }
      // The second service reads the same file: they authenticate each other.
      const second = await cluster.service('second-service', () => {}, { secret: undefined, peers: [first.url] });
      await waitFor(() => upInstances(second.micro, 'first-service').length === 1 && upInstances(first.micro, 'second-service').length === 1, 'file-secret members UP');
      assert.deepEqual(readdirSync(folder).filter((file) => file.startsWith('express-micro-')), files);
      // And it is a secret: a bearer that is not the file's content is refused.
      const refused = await fetch(`${first.url}/_discovery/services`, { headers: { authorization: `Bearer ${SECRET}` } });
      assert.equal(refused.status, 401);
      await refused.body?.cancel();
    }),
  ];
}
