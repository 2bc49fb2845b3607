import express from 'express';
import express4 from 'express4';
import { describe, expect, it } from 'vitest';
import { deriveName, readRoutes, type RouteDescriptor } from '../../src/routes/index.ts';

type Handler = (req: unknown, res: unknown, next: () => void) => void;
type Factory = () => {
  get(path: unknown, ...handlers: Handler[]): unknown;
  post(path: unknown, ...handlers: Handler[]): unknown;
  all(path: unknown, ...handlers: Handler[]): unknown;
  head(path: unknown, ...handlers: Handler[]): unknown;
  delete(path: unknown, ...handlers: Handler[]): unknown;
  use(...args: unknown[]): unknown;
  route(path: string): { get(h: Handler): { post(h: Handler): unknown }; all(h: Handler): unknown };
};
type Flavour = { name: string; app: Factory; router: Factory };

/** A handler with no name on every runtime (Bun names an arrow taken out of an array literal). */
function anonymousHandler(): () => void {
  return () => {};
}

const flavours: Flavour[] = [
  { name: 'Express 5', app: express as unknown as Factory, router: express.Router as unknown as Factory },
  { name: 'Express 4', app: express4 as unknown as Factory, router: express4.Router as unknown as Factory },
];

describe('deriveName', () => {
  it.each([
    // the design's examples
    ['GET', '/users/:id', 'getUser'],
    ['GET', '/orders/:userId', 'getOrders'],
    ['POST', '/orders', 'createOrder'],
    ['POST', '/api/users', 'createUser'],
    ['GET', '/users', 'getUsers'],
    ['GET', '/users/:id/orders', 'getUserOrders'],
    ['PUT', '/users/:userId', 'updateUser'],
    ['DELETE', '/users/:id', 'deleteUser'],
    ['PATCH', '/users/:id', 'patchUser'],
    // method spelling and methods without a verb
    ['get', '/users', 'getUsers'],
    ['HEAD', '/users', undefined],
    ['OPTIONS', '/users', undefined],
    ['*', '/users', undefined],
    // no static noun
    ['GET', '/', undefined],
    ['GET', '', undefined],
    ['GET', '/:id', undefined],
    ['GET', '/*', undefined],
    ['GET', '/api/v1', undefined],
    ['GET', '/api/:id', undefined],
    // nouns kept as written when nothing identifies them
    ['PATCH', '/users/:id/status', 'patchUserStatus'],
    ['GET', '/api/v1/health', 'getHealth'],
    ['GET', '/api/v2/users/:id', 'getUser'],
    ['GET', '/admin/users', 'getUsers'],
    ['GET', '/orders/:userId/items', 'getItems'],
    // camelCase nouns and their identifying params
    ['GET', '/order-items', 'getOrderItems'],
    ['GET', '/order_items/:orderItemId', 'getOrderItem'],
    ['GET', '/order-items/:order_item_id', 'getOrderItem'],
    ['GET', '/orderItems/:id', 'getOrderItem'],
    ['POST', '/order-items', 'createOrderItem'],
    ['GET', '/users/:user_id', 'getUser'],
    ['GET', '/users/:userId/orders/:orderId', 'getUserOrder'],
    ['GET', '/shops/:shopId/users/:id/orders', 'getShopUserOrders'],
    ['POST', '/users/:id/orders', 'createUserOrder'],
    // singulars of awkward words
    ['POST', '/addresses', 'createAddress'],
    ['GET', '/statuses/:id', 'getStatus'],
    ['POST', '/status', 'createStatus'],
    ['GET', '/categories/:id', 'getCategory'],
    ['GET', '/boxes/:boxId', 'getBox'],
    ['GET', '/matches/:id', 'getMatch'],
    ['GET', '/houses/:id', 'getHouse'],
    ['GET', '/people/:personId', 'getPerson'],
    // optional parameters identify nothing (Express 4 and 5 spellings)
    ['GET', '/users/:id?', 'getUsers'],
    ['GET', '/users{/:id}', 'getUsers'],
    ['GET', '/users/:id(\\d+)', 'getUser'],
    // wildcards and mixed segments neither name nor identify
    ['GET', '/files/*', 'getFiles'],
    ['GET', '/files/*path', 'getFiles'],
    ['GET', '/files{/*path}', 'getFiles'],
    ['GET', '/files/:path*', 'getFiles'],
    ['GET', '/flights/:from-:to', 'getFlights'],
    // an optional format names by the segment's text; a required one mixes text and a parameter
    ['GET', '/exports{.:format}', 'getExports'],
    ['GET', '/exports.:format?', 'getExports'],
    ['GET', '/users/:id{.:format}', 'getUser'],
    ['GET', '/files/file.:ext', 'getFiles'],
    ['GET', '/users/:id/', 'getUser'],
  ])('%s %s → %s', (method, path, expected) => {
    expect(deriveName(method, path)).toBe(expected);
  });
});

describe.each(flavours)('readRoutes on $name', ({ app: createApp, router: createRouter }) => {
  it('names anonymous handlers by method and path only', () => {
    const app = createApp();
    app.get('/users/:id', (_req, _res) => {});
    app.post('/users', () => {});
    expect(readRoutes(app)).toEqual([
      { method: 'GET', path: '/users/:id', names: ['getUser'] },
      { method: 'POST', path: '/users', names: ['createUser'] },
    ]);
  });

  it('puts a named handler first, then the derived name', () => {
    const app = createApp();
    app.get('/users/:id', function fetchUser() {});
    app.get('/orders/:id', function getOrder() {});
    const listAccounts: Handler = (_req, _res) => {};
    app.get('/accounts', listAccounts);
    expect(readRoutes(app)).toEqual([
      { method: 'GET', path: '/users/:id', names: ['fetchUser', 'getUser'] },
      { method: 'GET', path: '/orders/:id', names: ['getOrder'] },
      { method: 'GET', path: '/accounts', names: ['listAccounts', 'getAccounts'] },
    ]);
  });

  it('lets the last handler name a route with middleware in front', () => {
    const app = createApp();
    function authenticate(_req: unknown, _res: unknown, next: () => void): void {
      next();
    }
    app.get('/users/:id', authenticate, function loadUser() {});
    app.get('/orders', authenticate, () => {});
    expect(readRoutes(app)).toEqual([
      { method: 'GET', path: '/users/:id', names: ['loadUser', 'getUser'] },
      { method: 'GET', path: '/orders', names: ['getOrders'] },
    ]);
  });

  it('strips "bound " from bound handlers', () => {
    const app = createApp();
    app.get('/users', function listUsers() {}.bind({}));
    expect(readRoutes(app)).toEqual([{ method: 'GET', path: '/users', names: ['listUsers', 'getUsers'] }]);
  });

  it('reads each method of app.route()', () => {
    const app = createApp();
    app.route('/books').get(function listBooks() {}).post(() => {});
    expect(readRoutes(app)).toEqual([
      { method: 'GET', path: '/books', names: ['listBooks', 'getBooks'] },
      { method: 'POST', path: '/books', names: ['createBook'] },
    ]);
  });

  it('shows routes added after an earlier call', () => {
    const app = createApp();
    expect(readRoutes(app)).toEqual([]);
    app.get('/users', () => {});
    expect(readRoutes(app)).toEqual([{ method: 'GET', path: '/users', names: ['getUsers'] }]);
    app.delete('/users/:id', () => {});
    expect(readRoutes(app)).toEqual([
      { method: 'GET', path: '/users', names: ['getUsers'] },
      { method: 'DELETE', path: '/users/:id', names: ['deleteUser'] },
    ]);
  });

  it('includes nested routers with their mount prefix', () => {
    const app = createApp();
    const users = createRouter();
    users.get('/', () => {});
    users.get('/:id', function getUserById() {});
    const inner = createRouter();
    inner.get('/orders', () => {});
    users.use('/:userId', inner);
    app.use('/api/users', users);
    app.use(createRouter()); // empty root router
    const root = createRouter();
    root.post('/login', () => {});
    app.use(root);
    expect(readRoutes(app)).toEqual([
      { method: 'GET', path: '/api/users', names: ['getUsers'] },
      { method: 'GET', path: '/api/users/:id', names: ['getUserById', 'getUser'] },
      { method: 'GET', path: '/api/users/:userId/orders', names: ['getUserOrders'] },
      { method: 'POST', path: '/login', names: ['createLogin'] },
    ]);
  });

  it('leaves out /_discovery, .all() routes, RegExp paths and middleware', () => {
    const app = createApp();
    const discovery = createRouter();
    discovery.post('/register', () => {});
    app.use('/_discovery', discovery);
    app.get('/_discovery/services', () => {});
    app.use((_req: unknown, _res: unknown, next: () => void) => next());
    app.all('/anything', () => {});
    app.route('/everything').all(() => {});
    app.get(/^\/re$/, () => {});
    app.get('/ok', () => {});
    expect(readRoutes(app)).toEqual([{ method: 'GET', path: '/ok', names: ['getOk'] }]);
  });

  it('expands string path arrays and keeps an explicit HEAD', () => {
    const app = createApp();
    app.get(['/users', '/people'], () => {});
    app.head('/users', () => {});
    expect(readRoutes(app)).toEqual([
      { method: 'GET', path: '/users', names: ['getUsers'] },
      { method: 'GET', path: '/people', names: ['getPeople'] },
      { method: 'HEAD', path: '/users', names: [] },
    ]);
  });

  it('merges the same method and path declared twice', () => {
    const app = createApp();
    app.get('/users', function listUsers(_req, _res, next) {
      next();
    });
    app.get('/users', function allUsers() {});
    expect(readRoutes(app)).toEqual([{ method: 'GET', path: '/users', names: ['listUsers', 'getUsers', 'allUsers'] }]);
  });

  it('returns plain JSON-ready objects', () => {
    const app = createApp();
    const router = createRouter();
    router.get('/:id', function getThing() {});
    app.use('/things', router);
    app.route('/x').get(() => {}).post(() => {});
    const routes = readRoutes(app);
    expect(routes).toHaveLength(3);
    expect(JSON.parse(JSON.stringify(routes))).toEqual(routes);
    for (const route of routes) {
      expect(Object.getPrototypeOf(route)).toBe(Object.prototype);
      expect(Object.keys(route)).toEqual(['method', 'path', 'names']);
    }
  });
});

describe('readRoutes on odd shapes', () => {
  it.each([undefined, null, 42, 'app', {}, () => {}, { _router: { stack: 'no' } }, { router: { stack: [null, 1, { route: 5 }] } }])(
    'returns [] for %s',
    (value) => {
      expect(readRoutes(value)).toEqual([]);
    },
  );

  it('skips unreadable layers and keeps the rest', () => {
    const broken = {
      get route(): never {
        throw new Error('boom');
      },
    };
    const good = { route: { path: '/users', methods: { get: true }, stack: [{ method: 'get', handle: anonymousHandler() }] } };
    const routes: RouteDescriptor[] = readRoutes({ router: { stack: [broken, good] } });
    expect(routes).toEqual([{ method: 'GET', path: '/users', names: ['getUsers'] }]);
  });

  it('reads a bare router', () => {
    const router = express.Router();
    router.get('/users', () => {});
    expect(readRoutes(router)).toEqual([{ method: 'GET', path: '/users', names: ['getUsers'] }]);
  });

  it('places Express 4 routers only where the mount path reads back unambiguously', () => {
    const app = express4();
    const router = express4.Router();
    router.get('/items', () => {});
    app.use(['/p1', '/p2/:shopId?'], router);
    app.use(/^\/re/, router);
    app.use('/a*b', router);
    app.use('/v1.2', router);
    expect(readRoutes(app).map((r) => r.path)).toEqual(['/p1/items', '/p2/:shopId?/items', '/v1.2/items']);
  });

  it('survives a router mounted inside itself', () => {
    const app = express4();
    const router = express4.Router();
    router.get('/x', () => {});
    router.use('/again', router);
    app.use('/r', router);
    expect(readRoutes(app)).toEqual([{ method: 'GET', path: '/r/x', names: ['getX'] }]);
  });

  it('leaves out Express 5 routers whose mount path is not kept (router before 2.3)', () => {
    const routeLayer = { route: { path: '/users', methods: { get: true }, stack: [] } };
    const app = {
      router: {
        stack: [
          { slash: true, handle: { stack: [routeLayer] } },
          { slash: false, handle: { stack: [routeLayer] } },
        ],
      },
    };
    expect(readRoutes(app)).toEqual([{ method: 'GET', path: '/users', names: ['getUsers'] }]);
  });
});
