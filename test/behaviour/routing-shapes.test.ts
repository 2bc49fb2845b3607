/**
 * docs/routing.md's table, row by row, on Express 4 and Express 5: each way of declaring a route,
 * what readRoutes publishes for it, and that each published name (or `$call` where there is none)
 * reaches the route on a real server. A name is called the way the proxy calls it: indexRoutes,
 * chooseRoute, buildPath and buildBody, then the request on 127.0.0.1.
 */
import express from 'express';
import express4 from 'express4';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBody, buildPath } from '../../src/client/request.ts';
import { chooseRoute, compileRoute, indexRoutes, type CompiledRoute } from '../../src/client/route-index.ts';
import { readRoutes, type RouteDescriptor } from '../../src/routes/index.ts';

type Request = { params: unknown; query: unknown; body?: unknown; loaded?: unknown };
type Response = { json(body: unknown): void; end(): void };
type Handler = (req: Request, res: Response, next: () => void) => void;
/** The parts of an app or router these rows use, as both Express majors have them. */
interface Routable {
  get(path: unknown, ...handlers: Handler[]): Routable;
  post(path: unknown, ...handlers: Handler[]): Routable;
  put(path: unknown, ...handlers: Handler[]): Routable;
  patch(path: unknown, ...handlers: Handler[]): Routable;
  delete(path: unknown, ...handlers: Handler[]): Routable;
  head(path: unknown, ...handlers: Handler[]): Routable;
  all(path: unknown, ...handlers: Handler[]): Routable;
  use(...args: unknown[]): Routable;
  param(name: string, handler: (req: Request, res: Response, next: () => void, value: string) => void): Routable;
  route(path: string): { get(h: Handler): { put(h: Handler): unknown } };
  set(setting: string, value: unknown): unknown;
  listen(port: number, host: string, callback: () => void): Server;
}
interface Flavour {
  readonly major: 4 | 5;
  app(): Routable;
  router(options?: { mergeParams?: boolean }): Routable;
  json(): unknown;
}

const flavours: Flavour[] = [
  { major: 5, app: express as unknown as () => Routable, router: express.Router as unknown as () => Routable, json: () => express.json() },
  { major: 4, app: express4 as unknown as () => Routable, router: express4.Router as unknown as () => Routable, json: () => express4.json() },
];

/** An anonymous handler answering where the request landed (a factory, so that no runtime names it). */
function reply(at: string): Handler {
  return (req, res) => res.json({ at, params: { ...(req.params as object) }, query: req.query, ...(req.body === undefined || Object.keys(req.body as object).length === 0 ? {} : { body: req.body }), ...(req.loaded === undefined ? {} : { loaded: req.loaded }) });
}

/** A call by name, or by `$call` for what has no name, and the answer it must get. */
type Call =
  | { name: string; args?: Record<string, unknown>; answer: unknown }
  | { $call: [method: string, path: string]; args?: Record<string, unknown>; answer: unknown }
  | { name: string; ambiguous: string[] };

interface Row {
  /** The shape, as docs/routing.md's table names it. */
  shape: string;
  define(x: Flavour, app: Routable): void;
  /** What is published; a function when Express 4 and 5 spell the path differently. */
  published: RouteDescriptor[] | ((major: 4 | 5) => RouteDescriptor[]);
  calls: Call[] | ((major: 4 | 5) => Call[]);
}

const rows: Row[] = [
  {
    shape: 'app.METHOD(path, handler)',
    define(_x, app) {
      app.get('/users/:id', reply('get'));
      app.post('/users', reply('post'));
      app.put('/users/:id', reply('put'));
      app.patch('/users/:id', reply('patch'));
      app.delete('/users/:id', reply('delete'));
    },
    published: [
      { method: 'GET', path: '/users/:id', names: ['getUser'] },
      { method: 'POST', path: '/users', names: ['createUser'] },
      { method: 'PUT', path: '/users/:id', names: ['updateUser'] },
      { method: 'PATCH', path: '/users/:id', names: ['patchUser'] },
      { method: 'DELETE', path: '/users/:id', names: ['deleteUser'] },
    ],
    calls: [
      { name: 'getUser', args: { id: 7, fields: 'name' }, answer: { at: 'get', params: { id: '7' }, query: { fields: 'name' } } },
      { name: 'createUser', args: { name: 'Ada' }, answer: { at: 'post', params: {}, query: {}, body: { name: 'Ada' } } },
      { name: 'updateUser', args: { id: 'a b', name: 'Ada' }, answer: { at: 'put', params: { id: 'a b' }, query: {}, body: { name: 'Ada' } } },
      { name: 'patchUser', args: { id: 1, name: 'B' }, answer: { at: 'patch', params: { id: '1' }, query: {}, body: { name: 'B' } } },
      { name: 'deleteUser', args: { id: 2 }, answer: { at: 'delete', params: { id: '2' }, query: {} } },
    ],
  },
  {
    shape: 'a named handler, middleware in front',
    define(_x, app) {
      const auth: Handler = (_req, _res, next) => next();
      app.get('/accounts/:id', auth, function loadAccount(req, res) {
        res.json({ at: 'loadAccount', params: req.params });
      });
    },
    published: [{ method: 'GET', path: '/accounts/:id', names: ['loadAccount', 'getAccount'] }],
    calls: [
      { name: 'loadAccount', args: { id: 1 }, answer: { at: 'loadAccount', params: { id: '1' } } },
      { name: 'getAccount', args: { id: 1 }, answer: { at: 'loadAccount', params: { id: '1' } } },
    ],
  },
  {
    shape: 'app.all(path, handler)',
    define(_x, app) {
      app.all('/anything', reply('all'));
    },
    published: [],
    calls: [{ $call: ['POST', '/anything'], answer: { at: 'all', params: {}, query: {} } }],
  },
  {
    shape: 'app.route(path).get().put()',
    define(_x, app) {
      app.route('/books/:id').get(function readBook(req, res) {
        res.json({ at: 'readBook', params: req.params });
      }).put(reply('put'));
    },
    published: [
      { method: 'GET', path: '/books/:id', names: ['readBook', 'getBook'] },
      { method: 'PUT', path: '/books/:id', names: ['updateBook'] },
    ],
    calls: [
      { name: 'readBook', args: { id: 3 }, answer: { at: 'readBook', params: { id: '3' } } },
      { name: 'updateBook', args: { id: 3, title: 'T' }, answer: { at: 'put', params: { id: '3' }, query: {}, body: { title: 'T' } } },
    ],
  },
  {
    shape: 'routers at any depth, mergeParams',
    define(x, app) {
      const shops = x.router({ mergeParams: true });
      const users = x.router({ mergeParams: true });
      const plain = x.router();
      users.get('/:id', reply('merged'));
      plain.get('/orders', reply('plain'));
      shops.use('/users', users);
      shops.use('/audit', plain);
      app.use('/shops/:shopId', shops);
      const root = x.router();
      root.post('/login', reply('login'));
      app.use(root);
    },
    published: [
      { method: 'GET', path: '/shops/:shopId/users/:id', names: ['getShopUser'] },
      { method: 'GET', path: '/shops/:shopId/audit/orders', names: ['getShopOrders'] },
      { method: 'POST', path: '/login', names: ['createLogin'] },
    ],
    calls: [
      { name: 'getShopUser', args: { shopId: 1, id: 2 }, answer: { at: 'merged', params: { shopId: '1', id: '2' }, query: {} } },
      // Without mergeParams the router does not see the parameters of its mount path.
      { name: 'getShopOrders', args: { shopId: 1 }, answer: { at: 'plain', params: {}, query: {} } },
      { name: 'createLogin', args: { user: 'u' }, answer: { at: 'login', params: {}, query: {}, body: { user: 'u' } } },
    ],
  },
  {
    shape: 'app.use([path, path], router)',
    define(x, app) {
      const items = x.router();
      items.get('/items', reply('items'));
      app.use(['/a', '/b/:shop'], items);
    },
    published: [
      { method: 'GET', path: '/a/items', names: ['getItems'], handler: 0 },
      { method: 'GET', path: '/b/:shop/items', names: ['getItems'], handler: 0 },
    ],
    calls: [
      { name: 'getItems', args: { page: 2 }, answer: { at: 'items', params: {}, query: { page: '2' } } },
      { $call: ['GET', '/b/:shop/items'], args: { shop: 's1' }, answer: { at: 'items', params: {}, query: {} } },
    ],
  },
  {
    shape: 'app.use(pattern, router)',
    define(x, app) {
      const items = x.router({ mergeParams: true });
      items.get('/items', reply('tenant'));
      app.use('/tenants/:tenant', items);
      const wild = x.router();
      wild.get('/', reply('wild'));
      wild.get('/items', reply('never'));
      // Express matches the wildcard greedily: the router below sees only `/`.
      app.use(x.major === 5 ? '/files/*rest' : '/files/*', wild);
    },
    published: [{ method: 'GET', path: '/tenants/:tenant/items', names: ['getItems'] }],
    calls: [
      { name: 'getItems', args: { tenant: 't1' }, answer: { at: 'tenant', params: { tenant: 't1' }, query: {} } },
      { $call: ['GET', '/files/a/b/items'], answer: { at: 'wild', params: {}, query: {} } },
    ],
  },
  {
    shape: 'sub-apps, nested, at path arrays',
    define(x, app) {
      const v2 = x.app();
      const ops = x.app();
      v2.get('/reports/:reportId', reply('report'));
      ops.get('/health/details', function getHealthDetails(_req, res) {
        res.json({ at: 'health' });
      });
      v2.use('/ops', ops);
      app.use(['/v2', '/latest'], v2);
    },
    published: [
      { method: 'GET', path: '/v2/reports/:reportId', names: ['getReport'], handler: 0 },
      { method: 'GET', path: '/v2/ops/health/details', names: ['getHealthDetails', 'getDetails'], handler: 1 },
      { method: 'GET', path: '/latest/reports/:reportId', names: ['getReport'], handler: 0 },
      { method: 'GET', path: '/latest/ops/health/details', names: ['getHealthDetails', 'getDetails'], handler: 1 },
    ],
    calls: [
      { name: 'getReport', args: { reportId: 'r1' }, answer: { at: 'report', params: { reportId: 'r1' }, query: {} } },
      { name: 'getHealthDetails', answer: { at: 'health' } },
    ],
  },
  {
    shape: 'a sub-app mounted on a router',
    define(x, app) {
      const legacy = x.app();
      legacy.get('/invoices/:invoiceId', reply('invoice'));
      const billing = x.router();
      billing.use('/legacy', legacy);
      app.use('/billing', billing);
    },
    published: [{ method: 'GET', path: '/billing/legacy/invoices/:invoiceId', names: ['getInvoice'] }],
    calls: [{ name: 'getInvoice', args: { invoiceId: 'i1' }, answer: { at: 'invoice', params: { invoiceId: 'i1' }, query: {} } }],
  },
  {
    shape: 'a regular-expression path',
    define(_x, app) {
      app.get(/^\/re\/(\d+)$/, reply('regexp'));
    },
    published: [],
    calls: [{ $call: ['GET', '/re/42'], answer: { at: 'regexp', params: { 0: '42' }, query: {} } }],
  },
  {
    shape: 'app.param(name, loader)',
    define(_x, app) {
      app.param('userId', (req, _res, next, value) => {
        req.loaded = `user ${value}`;
        next();
      });
      app.get('/users/:userId/settings', reply('settings'));
    },
    published: [{ method: 'GET', path: '/users/:userId/settings', names: ['getUserSettings'] }],
    calls: [{ name: 'getUserSettings', args: { userId: 9 }, answer: { at: 'settings', params: { userId: '9' }, query: {}, loaded: 'user 9' } }],
  },
  {
    shape: 'an optional parameter: `{/:id}` (5), `:id?` (4)',
    define(x, app) {
      app.get(x.major === 5 ? '/posts{/:id}' : '/posts/:id?', reply('posts'));
    },
    published: (major) => [{ method: 'GET', path: major === 5 ? '/posts{/:id}' : '/posts/:id?', names: ['getPosts'] }],
    calls: (major) => [
      { name: 'getPosts', args: { id: 3 }, answer: { at: 'posts', params: { id: '3' }, query: {} } },
      { name: 'getPosts', args: { tag: 'x' }, answer: { at: 'posts', params: major === 5 ? {} : { id: undefined }, query: { tag: 'x' } } },
    ],
  },
  {
    shape: 'a format: `{.:format}` (5), `.:format?` (4)',
    define(x, app) {
      app.get(x.major === 5 ? '/exports{.:format}' : '/exports.:format?', reply('exports'));
    },
    published: (major) => [{ method: 'GET', path: major === 5 ? '/exports{.:format}' : '/exports.:format?', names: ['getExports'] }],
    calls: (major) => [
      { name: 'getExports', args: { format: 'csv' }, answer: { at: 'exports', params: { format: 'csv' }, query: {} } },
      { name: 'getExports', answer: { at: 'exports', params: major === 5 ? {} : { format: undefined }, query: {} } },
    ],
  },
  {
    shape: 'a wildcard: `/*name` and `{/*name}` (5), `*` (4)',
    define(x, app) {
      if (x.major === 5) {
        app.get('/files/*path', reply('files'));
        app.get('/docs{/*path}', reply('docs'));
      } else app.get('/files/*', reply('files'));
    },
    published: (major) =>
      major === 5
        ? [
            { method: 'GET', path: '/files/*path', names: ['getFiles'] },
            { method: 'GET', path: '/docs{/*path}', names: ['getDocs'] },
          ]
        : [{ method: 'GET', path: '/files/*', names: ['getFiles'] }],
    calls: (major) =>
      major === 5
        ? [
            { name: 'getFiles', args: { path: 'a/b c.txt' }, answer: { at: 'files', params: { path: ['a', 'b c.txt'] }, query: {} } },
            { name: 'getFiles', args: { path: ['a/b', 'c'] }, answer: { at: 'files', params: { path: ['a/b', 'c'] }, query: {} } },
            { name: 'getDocs', answer: { at: 'docs', params: {}, query: {} } },
            { name: 'getDocs', args: { path: 'x/y' }, answer: { at: 'docs', params: { path: ['x', 'y'] }, query: {} } },
          ]
        : [{ name: 'getFiles', args: { 0: 'a/b c.txt' }, answer: { at: 'files', params: { 0: 'a/b c.txt' }, query: {} } }],
  },
  {
    shape: 'a parameter with a pattern: `:id(\\d+)` (4 only)',
    define(x, app) {
      app.get(x.major === 5 ? '/orders/:id' : '/orders/:id(\\d+)', reply('order'));
    },
    published: (major) => [{ method: 'GET', path: major === 5 ? '/orders/:id' : '/orders/:id(\\d+)', names: ['getOrder'] }],
    calls: [{ name: 'getOrder', args: { id: 12 }, answer: { at: 'order', params: { id: '12' }, query: {} } }],
  },
  {
    shape: 'one handler on several paths',
    define(_x, app) {
      function getItem(req: Request, res: Response): void {
        res.json({ at: 'getItem', params: req.params });
      }
      app.get(['/items/:id', '/things/:id'], getItem);
      app.get('/shops/:shopId/items/:itemId', getItem);
    },
    published: [
      { method: 'GET', path: '/items/:id', names: ['getItem'], handler: 0 },
      { method: 'GET', path: '/things/:id', names: ['getItem', 'getThing'], handler: 0 },
      { method: 'GET', path: '/shops/:shopId/items/:itemId', names: ['getItem', 'getShopItem'], handler: 0 },
    ],
    calls: [
      { name: 'getItem', args: { id: 1 }, answer: { at: 'getItem', params: { id: '1' } } },
      { name: 'getItem', args: { shopId: 2, itemId: 3 }, answer: { at: 'getItem', params: { shopId: '2', itemId: '3' } } },
      { name: 'getThing', args: { id: 4 }, answer: { at: 'getItem', params: { id: '4' } } },
    ],
  },
  {
    shape: 'two handlers claiming one name',
    define(_x, app) {
      app.get('/admin/users', reply('admin'));
      app.get('/users', reply('public'));
    },
    published: [
      { method: 'GET', path: '/admin/users', names: ['getUsers'] },
      { method: 'GET', path: '/users', names: ['getUsers'] },
    ],
    calls: [
      { name: 'getUsers', ambiguous: ['GET /admin/users', 'GET /users'] },
      { $call: ['GET', '/users'], answer: { at: 'public', params: {}, query: {} } },
    ],
  },
  {
    shape: 'an explicit HEAD; middleware',
    define(_x, app) {
      app.use('/status', (_req: Request, _res: Response, next: () => void) => next());
      app.head('/status', (_req, res) => res.end());
    },
    published: [{ method: 'HEAD', path: '/status', names: [] }],
    calls: [{ $call: ['HEAD', '/status'], answer: undefined }],
  },
];

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

async function serve(app: Routable): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function send(url: string, route: CompiledRoute, label: string, args: Record<string, unknown> | undefined): Promise<unknown> {
  const body = buildBody(route, args);
  const response = await fetch(url + buildPath('shapes', label, route, args), { method: route.method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body });
  const text = await response.text();
  expect(response.status, `${route.method} ${route.path}: ${text}`).toBe(200);
  return text === '' ? undefined : JSON.parse(text);
}

describe.each(flavours)('routing shapes on Express $major', (x) => {
  it.each(rows)('$shape', async (row) => {
    const app = x.app();
    app.use(x.json());
    row.define(x, app);
    const published = readRoutes(app);
    expect(published).toEqual(typeof row.published === 'function' ? row.published(x.major) : row.published);
    const index = indexRoutes(published);
    const url = await serve(app);
    for (const call of typeof row.calls === 'function' ? row.calls(x.major) : row.calls) {
      if ('ambiguous' in call) {
        expect(index.get(call.name)).toEqual({ ambiguous: call.ambiguous });
      } else if ('$call' in call) {
        const [method, path] = call.$call;
        expect(await send(url, compileRoute(method, path), `${method} ${path}`, call.args), `$call ${method} ${path}`).toEqual(call.answer);
      } else {
        const found = index.get(call.name);
        if (found === undefined || 'ambiguous' in found) throw new Error(`${call.name} does not resolve to one route: ${JSON.stringify(found)}`);
        expect(await send(url, chooseRoute(found, call.args), call.name, call.args), `${call.name}(${JSON.stringify(call.args)})`).toEqual(call.answer);
      }
    }
  });
});

describe("docs/routing.md's table of routing shapes", () => {
  it('has one row per shape tested here, in the same order', () => {
    const guide = readFileSync(new URL('../../docs/routing.md', import.meta.url), 'utf8');
    const table = guide.slice(guide.indexOf('## Every routing shape'), guide.indexOf('## Calling what has no name'));
    const documented = [...table.matchAll(/^\| (.+?) \| .+ \| .+ \|$/gm)].map((match) => (match[1] as string).replace(/`/g, '')).filter((shape) => shape !== 'shape' && !shape.startsWith('---'));
    expect(documented).toEqual(rows.map((row) => row.shape.replace(/`/g, '')));
  });
});
