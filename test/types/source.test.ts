/**
 * `express-micro types --app`: services read from their source. The fixture services are also
 * started for real (Express 5, and Express 4 through the `express4` package), and what they
 * publish on `/_discovery/services` must be exactly what the command reads from their source:
 * every method, path and call name. Answer types are checked route by route.
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCluster } from '../../src/cli/commands/types/peers.ts';
import { readSources } from '../../src/cli/commands/types/source/index.ts';
import type { ServiceModel } from '../../src/cli/commands/types/model.ts';
import { SECRET, waitFor } from '../helpers.ts';
import { createOrderService } from './fixtures/express4/order-service.ts';
import { createUserService } from './fixtures/express5/user-service.ts';
import { ROOT, runCli } from './support.ts';

const USER_SOURCE = join(ROOT, 'test/types/fixtures/express5/user-service.ts');
const ORDER_SOURCE = join(ROOT, 'test/types/fixtures/express4/order-service.ts');

type Started = { url: string; close: () => Promise<void> };
const started: Started[] = [];

async function listen(made: { app: { listen: Function }; micro: { close(): Promise<void>; url: string | undefined } }): Promise<Started> {
  const server = await new Promise<Server>((resolve, reject) => {
    const listening: Server = made.app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  await waitFor(() => made.micro.url !== undefined, 'the fixture service started');
  const service = {
    url: made.micro.url as string,
    close: async () => {
      await made.micro.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  started.push(service);
  return service;
}

/** `METHOD path: names` lines (and `#n`, the handler number), sorted: what a service publishes, without answer types. */
function published(service: ServiceModel | undefined): string[] {
  return (service?.routes ?? []).map((route) => `${route.method} ${route.path}: ${[...route.names].sort().join(' ')}${route.handler === undefined ? '' : ` #${route.handler}`}`).sort();
}

let fromSource: readonly ServiceModel[] = [];
let fromCluster: ServiceModel[] = [];

beforeAll(async () => {
  const common = { host: '127.0.0.1', secret: SECRET, pingInterval: 200, logger: false } as const;
  const users = await listen(createUserService(common));
  await listen(createOrderService({ ...common, peers: [users.url] }));
  fromSource = (await readSources([
    { file: USER_SOURCE, label: 'user-service.ts' },
    { file: ORDER_SOURCE, label: 'order-service.ts' },
  ])).services;
  await waitFor(async () => (await readCluster([users.url], { secret: SECRET, hmac: false }))[0]?.length === 2, 'user-service knows order-service');
  fromCluster = (await readCluster([users.url], { secret: SECRET, hmac: false }))[0] ?? [];
}, 60_000);

afterAll(async () => {
  await Promise.all(started.map((service) => service.close()));
});

const find = (list: readonly ServiceModel[], name: string): ServiceModel | undefined => list.find((service) => service.name === name);

describe('reading a service from its source', () => {
  it('finds exactly the routes and call names the running Express 5 service publishes (prefixed and nested routers, a route chain, named handlers)', () => {
    const live = published(find(fromCluster, 'user-service'));
    expect(live.length).toBeGreaterThan(10);
    expect(published(find(fromSource, 'user-service'))).toEqual(live);
    // A few the fixture is there for:
    expect(live).toContain('GET /api/v1/admin/audit: getAudit');
    expect(live).toContain('PATCH /api/v1/accounts/:accountId/status: patchAccountStatus setStatus');
    expect(live).toContain('POST /sessions: createSession openSession');
    expect(live).toContain('GET /teams/:id: findById getTeam');
    expect(live).toContain('GET /things/:id: findItem getThing #0');
    expect(live).toContain('GET /stock/:id: findItem getStock #0');
    expect(live).toContain('GET /latest/ops/health/details: getDetails getHealthDetails #2');
  });

  it('finds exactly the routes and call names the running Express 4 service publishes (a router given to a function, an async wrapper, :param?)', () => {
    const live = published(find(fromCluster, 'order-service'));
    expect(live).toContain('GET /shop/reports/daily: getDaily');
    expect(live).toContain('GET /shop/users/:userId/orders/:orderId?: getUserOrders');
    expect(live).toContain('GET /admin/audit/:entryId: getAudit');
    expect(published(find(fromSource, 'order-service'))).toEqual(live);
  });

  it.each([
    ['user-service', 'GET /users/:id', '{ id: string; name: string; email?: string; createdAt: string; tags: string[]; role: "admin" | "member" }'],
    ['user-service', 'GET /users', '{ id: string; name: string }[]'],
    ['user-service', 'POST /users', '{ id: string; name: string }'],
    ['user-service', 'GET /users/:id/stats', '{ total: number; last: null | string }'],
    ['user-service', 'DELETE /users/:id', 'undefined'],
    ['user-service', 'GET /users{/:id}/avatar', 'string'],
    ['user-service', 'GET /health', 'string'],
    ['user-service', 'GET /api/v1/admin/audit', '{ at: string; who: string }[]'],
    ['user-service', 'GET /api/v1/accounts/:accountId', '{ accountId: string; balance: number; currency: "EUR" }'],
    ['user-service', 'GET /files/*splat', undefined],
    ['order-service', 'GET /shop/orders/:orderId', '{ id: string; total: number; items: { sku: string; quantity: number }[]; note?: string }'],
    ['order-service', 'POST /orders', '{ id: string; created: boolean }'],
    ['order-service', 'PUT /orders/:orderId', '{ id: string; updated: number }'],
    ['order-service', 'GET /ping', 'string'],
  ])('%s %s answers %s', (service, label, answer) => {
    const route = find(fromSource, service)?.routes.find((candidate) => `${candidate.method} ${candidate.path}` === label);
    expect(route, label).toBeDefined();
    expect(route?.answer).toBe(answer);
    if (answer === undefined) expect(route?.note).toBe('answer unknown: the handler sends a value typed `any`');
  });
});

describe('reading a service\'s subscriptions from its source', () => {
  it('finds the events the running services subscribe to: on the handle, and on the handle passed to a function', () => {
    const names = (list: readonly ServiceModel[], service: string): string[] => [...new Set((find(list, service)?.events ?? []).map((event) => event.name))].sort();
    expect(names(fromSource, 'user-service')).toEqual(['cache.flush', 'order.created']);
    expect(names(fromSource, 'order-service')).toEqual(['cache.flush', 'user.deleted']);
    // What they publish: the same names.
    expect(names(fromCluster, 'user-service')).toEqual(names(fromSource, 'user-service'));
    expect(names(fromCluster, 'order-service')).toEqual(names(fromSource, 'order-service'));
  });

  it('takes the payload type the handler declares, as the JSON it receives; none when the handler declares none', () => {
    const payload = (service: string, event: string): string | undefined => find(fromSource, service)?.events?.find((candidate) => candidate.name === event)?.payload;
    expect(payload('user-service', 'order.created')).toBe('{ id: string; total: number; at: string }');
    expect(payload('order-service', 'user.deleted')).toBe('{ id: string }');
    expect(payload('user-service', 'cache.flush')).toBeUndefined();
    expect(payload('order-service', 'cache.flush')).toBeUndefined();
  });

  it('warns about a subscription whose name it cannot read, and declares the ones it can', { timeout: 60_000 }, async () => {
    const run = await runCli(['types', '--app', 'test/types/fixtures/subscriber-service.ts']);
    expect(run.err).toBe(
      'express-micro types: warning: test/types/fixtures/subscriber-service.ts:17: a subscribe() whose event name is not a string literal (topic): its event is left out\n' +
        'express-micro types: warning: test/types/fixtures/subscriber-service.ts:18: subscribe("not an event"): not an event name (a letter or digit, then up to 99 of letters, digits and . _ : -): left out\n',
    );
    expect(run.code).toBe(0);
    expect(run.out).toContain(`  interface EventRegistry {
    /** Subscribed to by subscriber-service. */
    "stock.low": { sku: string; left: number };
    /** Subscribed to by subscriber-service. */
    "user:signed-up": unknown;
  }
}
`);
  });
});

describe('express-micro types --app', () => {
  it('needs --name when the serviceName is not a literal, warns about a path it cannot read, and names the module given', { timeout: 60_000 }, async () => {
    const without = await runCli(['types', '--app', 'test/types/fixtures/unnamed-service.ts']);
    expect(without.code).toBe(2);
    expect(without.err).toBe(
      'express-micro types: --app test/types/fixtures/unnamed-service.ts: the service\'s name is not a literal serviceName in its expressMicro() call; give it with --name after --app\n',
    );
    const named = await runCli(['types', '--app', 'test/types/fixtures/unnamed-service.ts', '--name', 'catalog', '--module', 'jsr:@x/express-micro']);
    expect(named.code).toBe(0);
    expect(named.err).toBe('express-micro types: warning: test/types/fixtures/unnamed-service.ts:14: a path that is not a string literal (`${PREFIX}/items`): its route is left out\n');
    expect(named.out).toContain('export interface CatalogService {');
    expect(named.out).toContain('getItem(args: { itemId: string | number; [key: string]: unknown }, options?: CallOptions): Promise<{ itemId: string; price: number }>;');
    expect(named.out).not.toContain('getItems');
    // Deno apps import the package from JSR: the augmentation must name the same module.
    expect(named.out).toContain('import type { CallOptions } from "jsr:@x/express-micro";');
    expect(named.out).toContain('declare module "jsr:@x/express-micro" {');
  });

  it('refuses a file with no expressMicro() call, a missing file and a bad --name, in one line each', { timeout: 60_000 }, async () => {
    expect(await runCli(['types', '--app', 'test/types/fixtures/plain-express.ts', '--name', 'x'])).toEqual({
      code: 2,
      out: '',
      err: 'express-micro types: --app test/types/fixtures/plain-express.ts: no expressMicro(app, …) call found: the app given to it is the service this command reads\n',
    });
    expect(await runCli(['types', '--app', 'test/types/fixtures/nothing-here.ts'])).toEqual({ code: 2, out: '', err: 'express-micro types: --app test/types/fixtures/nothing-here.ts: no such file\n' });
    expect((await runCli(['types', '--app', 'test/types/fixtures/unnamed-service.ts', '--name', 'not a name'])).err).toBe(
      'express-micro types: --app test/types/fixtures/unnamed-service.ts: "not a name" is not a service name (1-100 of A-Z a-z 0-9 . _ -)\n',
    );
    expect((await runCli(['types', '--name', 'x', '--app', 'test/types/fixtures/unnamed-service.ts'])).err).toBe(
      'express-micro types: --name names the service of the --app before it; give --app first\n',
    );
  });
});
