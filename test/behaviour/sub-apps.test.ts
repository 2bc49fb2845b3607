/**
 * Express apps as they are written, end to end on real servers: routes of mounted sub-apps called
 * by name from another service (Express 4 and 5), one handler on several paths, `$call` for a
 * regular-expression path, a sub-app that called expressMicro() itself, and the optional handler
 * number on the wire (docs/routing.md).
 */
import express from 'express';
import express4 from 'express4';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { indexRoutes } from '../../src/client/route-index.ts';
import { parseDescriptor } from '../../src/discovery/validate.ts';
import expressMicro, { AmbiguousRouteError, MissingParameterError, type ExpressMicro } from '../../src/index.ts';
import { discovery, SECRET, startService, stopAll, upInstances, waitFor } from '../helpers.ts';

type Req = { params: Record<string, string>; query: unknown; app: { get(setting: string): unknown } };
type Res = { json(body: unknown): void };
type Handler = (req: Req, res: Res) => void;
interface App {
  get(path: unknown, ...handlers: Handler[]): App;
  get(setting: string): unknown;
  set(setting: string, value: unknown): App;
  use(...args: unknown[]): App;
  listen(port: number, host: string): Server;
}
interface Flavour {
  readonly major: 4 | 5;
  readonly create: () => App;
}
const flavours: Flavour[] = [
  { major: 5, create: express as unknown as () => App },
  { major: 4, create: express4 as unknown as () => App },
];

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
  await stopAll();
});

/** An app of the given Express major with express-micro on it, listening on 127.0.0.1 port 0. */
async function startFlavoured(flavour: Flavour, serviceName: string, define: (app: App) => void, peers: string[] = []): Promise<{ app: App; micro: ExpressMicro }> {
  const app = flavour.create();
  const micro = expressMicro(app as never, { serviceName, host: '127.0.0.1', secret: SECRET, pingInterval: 200, logger: false, peers });
  define(app);
  const server = app.listen(0, '127.0.0.1');
  stops.push(async () => {
    await micro.close();
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  });
  await waitFor(() => micro.url !== undefined, `${serviceName} listening`);
  return { app, micro };
}

describe.each(flavours)('sub-apps on Express $major', (flavour) => {
  it('calls the routes of a sub-app, and of one nested in it, by name from another service', async () => {
    const { app, micro } = await startFlavoured(flavour, 'user-service', (root) => {
      root.set('label', 'root');
      const v2 = flavour.create();
      v2.set('label', 'v2');
      v2.get('/reports/:reportId', (req, res) => res.json({ report: req.params.reportId, label: req.app.get('label') }));
      const ops = flavour.create();
      ops.get('/health/details', function getHealthDetails(req, res) {
        res.json({ healthy: true, label: req.app.get('label') });
      });
      v2.use('/ops', ops);
      root.use('/v2', v2);
    });
    const caller = await startService('order-service', () => {}, { peers: [micro.url!] });
    await waitFor(() => upInstances(caller.micro, 'user-service').length === 1, 'order-service sees user-service');
    const { userService } = caller.micro.services;
    // Each sub-app answers with its own settings (`label`), the nested one inheriting its parent's.
    expect(await userService!.getReport({ reportId: 'r7' })).toEqual({ report: 'r7', label: 'v2' });
    expect(await userService!.getHealthDetails()).toEqual({ healthy: true, label: 'v2' });
    expect(app.get('label')).toBe('root');

    // A route added to the sub-app after listen() propagates like any other.
    const late = flavour.create();
    late.get('/late/:id', (req, res) => res.json({ late: req.params.id }));
    app.use('/v3', late);
    await waitFor(async () => {
      try {
        return (await userService!.getLate({ id: 1 })) !== undefined;
      } catch {
        return false;
      }
    }, 'the late sub-app route reaches order-service', 4000);
    expect(await userService!.getLate({ id: 2 })).toEqual({ late: '2' });
  });

  it('calls one handler on several paths by its name, the first path whose parameters the arguments fill', async () => {
    const { micro } = await startFlavoured(flavour, 'item-service', (root) => {
      function getItem(req: Req, res: Res): void {
        res.json({ params: req.params, query: req.query });
      }
      root.get(['/items/:id', '/things/:id'], getItem);
      root.get('/shops/:shopId/items/:itemId', getItem);
      // Two different functions with one name stay ambiguous.
      root.get('/a/stock', function listStock(_req, res) {
        res.json('a');
      });
      root.get('/b/stock', function listStock(_req, res) {
        res.json('b');
      });
      root.get(/^\/re\/(\d+)$/, (req, res) => res.json({ matched: req.params[0] }));
    });
    const caller = await startService('caller-service', () => {}, { peers: [micro.url!] });
    await waitFor(() => upInstances(caller.micro, 'item-service').length === 1, 'caller sees item-service');
    const items = caller.micro.services.itemService!;
    expect(await items.getItem({ id: 1, view: 'full' })).toEqual({ params: { id: '1' }, query: { view: 'full' } });
    expect(await items.getItem({ shopId: 2, itemId: 3 })).toEqual({ params: { shopId: '2', itemId: '3' }, query: {} });
    expect(await items.getItem(5)).toEqual({ params: { id: '5' }, query: {} });
    // No path filled: the error names the first path.
    await expect(items.getItem({ itemId: 3 })).rejects.toThrow(MissingParameterError);
    await expect(items.getItem({ itemId: 3 })).rejects.toThrow(/\/items\/:id/);
    await expect(items.listStock()).rejects.toThrow(AmbiguousRouteError);
    // A regular-expression path has no name; $call reaches it.
    expect(await items.$call('GET', '/re/42')).toEqual({ matched: '42' });
  });

  it('makes a sub-app that called expressMicro() itself no second member: its handle stands for the app it is mounted in', async () => {
    const other = await startService('report-store', (store) => store.get('/stored/:id', (req, res) => res.json({ stored: req.params.id })));
    let subMicro: ExpressMicro | undefined;
    const heard: string[] = [];
    const { app, micro } = await startFlavoured(
      flavour,
      'user-service',
      (root) => {
        const admin = flavour.create();
        // Given a port too: a member of its own would start at once.
        subMicro = expressMicro(admin as never, { serviceName: 'admin-service', host: '127.0.0.1', secret: SECRET, logger: false, port: 1 });
        subMicro.on('up', (instance) => heard.push(instance.service));
        admin.get('/audit/:id', (req, res) => res.json({ audit: req.params.id }));
        root.use('/admin', admin);
      },
      [other.url],
    );
    const sub = subMicro!;
    stops.push(() => sub.close());
    await sub.ready;
    expect(sub.url).toBe(micro.url);
    await waitFor(() => upInstances(micro, 'report-store').length === 1, 'user-service sees report-store');
    // Its listeners hear the members of the cluster above it; its services reach them.
    await waitFor(() => heard.includes('report-store'), "the sub-app's listener hears report-store come up");
    expect(await sub.services.reportStore!.getStored({ id: 'x' })).toEqual({ stored: 'x' });
    expect(sub.peers().map((peer) => peer.service).sort()).toEqual(['report-store', 'user-service']);
    // Nobody ever hears of admin-service: its routes are user-service's, under the mount path.
    await waitFor(() => upInstances(other.micro, 'user-service').length === 1, 'report-store sees user-service');
    expect(other.micro.peers().map((peer) => peer.service).sort()).toEqual(['report-store', 'user-service']);
    expect(await other.micro.services.userService!.getAudit({ id: 9 })).toEqual({ audit: '9' });
    // `/admin/_discovery/…` is the sub-app's own path, not a second discovery endpoint.
    expect((await discovery(`${micro.url}/admin`, '/services')).status).toBe(404);
    expect((await discovery(micro.url!, '/services')).status).toBe(200);
    // A sub-app mounted after the app above took report-store in: its listener still hears it.
    const late = flavour.create();
    const lateMicro = expressMicro(late as never, { serviceName: 'late-service', host: '127.0.0.1', secret: SECRET, logger: false });
    stops.push(() => lateMicro.close());
    const lateHeard: string[] = [];
    lateMicro.on('discovered', (instance) => lateHeard.push(`discovered ${instance.service}`));
    lateMicro.on('up', (instance) => lateHeard.push(`up ${instance.service}`));
    app.use('/late', late);
    await lateMicro.ready;
    await waitFor(() => lateHeard.length === 2, "the late sub-app's listeners hear report-store");
    expect(lateHeard).toEqual(['discovered report-store', 'up report-store']);
  });
});

describe('the handler number on the wire', () => {
  const self = (routes: unknown[]): unknown => ({ protocol: 2, name: 'svc', id: 'abcdef0123456789', url: 'http://127.0.0.1:9', routes, rev: 'r1', incarnation: 0 });

  it.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['a string', '0'],
    ['null', null],
    ['too large', 1000],
    ['unsafe', 2 ** 53],
    ['an object', { valueOf: 0 }],
    ['an array', [0]],
    ['a boolean', true],
  ])('refuses a descriptor whose handler is %s', (_label, handler) => {
    expect(parseDescriptor(self([{ method: 'GET', path: '/x', names: ['getX'], handler }]))).toBe('routes[0].handler is not a handler number');
  });

  it('keeps a valid number, and leaves the field out when a peer sends none', () => {
    const parsed = parseDescriptor(self([{ method: 'GET', path: '/x', names: ['getX'], handler: 3 }, { method: 'GET', path: '/y', names: ['getX'] }]));
    expect(parsed).toMatchObject({ routes: [{ method: 'GET', path: '/x', names: ['getX'], handler: 3 }, { method: 'GET', path: '/y', names: ['getX'] }] });
    expect(Object.keys((parsed as { routes: object[] }).routes[1]!)).toEqual(['method', 'path', 'names']);
  });

  it('treats routes without a number (an older peer) as distinct handlers, and numbers on other methods too', () => {
    const index = indexRoutes([
      { method: 'GET', path: '/items/:id', names: ['getItem'] },
      { method: 'GET', path: '/things/:id', names: ['getItem'] },
      { method: 'GET', path: '/a', names: ['list'], handler: 1 },
      { method: 'POST', path: '/b', names: ['list'], handler: 1 },
      { method: 'GET', path: '/c', names: ['read'], handler: 1 },
      { method: 'GET', path: '/d', names: ['read'], handler: 2 },
      { method: 'GET', path: '/e/:id', names: ['find'], handler: 4 },
      { method: 'GET', path: '/f/:code', names: ['find'], handler: 4 },
    ]);
    expect(index.get('getItem')).toEqual({ ambiguous: ['GET /items/:id', 'GET /things/:id'] });
    expect(index.get('list')).toEqual({ ambiguous: ['GET /a', 'POST /b'] });
    expect(index.get('read')).toEqual({ ambiguous: ['GET /c', 'GET /d'] });
    expect(index.get('find')).toMatchObject({ path: '/e/:id', alternatives: [{ path: '/f/:code' }] });
  });

  it("never takes two instances' equal numbers for one handler", () => {
    // Each instance's routes are indexed on their own (client/pools.ts), so handler numbers never
    // meet across instances: two versions side by side each number their own getItem 0, on a
    // different path, and each index holds one route for it (the call goes to the chosen
    // instance's own path), never one handler of the two.
    const v1 = indexRoutes([{ method: 'GET', path: '/items/:id', names: ['getItem'], handler: 0 }]);
    const v2 = indexRoutes([{ method: 'GET', path: '/things/:id', names: ['getItem'], handler: 0 }]);
    expect(v1.get('getItem')).toMatchObject({ path: '/items/:id' });
    expect(v1.get('getItem')).not.toHaveProperty('alternatives');
    expect(v2.get('getItem')).toMatchObject({ path: '/things/:id' });
    // One instance whose one handler answers both paths: one call with an alternative.
    const both = indexRoutes([{ method: 'GET', path: '/items/:id', names: ['getItem'], handler: 0 }, { method: 'GET', path: '/things/:id', names: ['getItem'], handler: 0 }]);
    expect(both.get('getItem')).toMatchObject({ path: '/items/:id', alternatives: [{ path: '/things/:id' }] });
  });
});
