import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import expressMicro from '../../src/index.ts';
import { SECRET, startService, stopAll, upInstances, waitFor, type TestService } from '../helpers.ts';

afterEach(stopAll);

/** The seed's two services, with the routes its README shows. */
async function seedCluster(): Promise<{ users: TestService; orders: TestService }> {
  const users = await startService('user-service', (app) => {
    app.use(express.json());
    app.get('/users/:id', (req, res) => {
      if (req.params.id === '404') return void res.status(404).json({ error: 'no such user' });
      res.json({ id: req.params.id, name: 'Grace', query: req.query });
    });
    app.get('/users', (req, res) => res.json({ all: true, query: req.query }));
    app.post('/api/users', (req, res) => res.status(201).json({ created: req.body }));
    app.put('/users/:userId', (req, res) => res.json({ updated: req.params.userId, body: req.body }));
    app.delete('/users/:id', (req, res) => res.status(204).end());
    app.get('/users/:id/orders', (req, res) => res.json({ ordersOf: req.params.id }));
    app.get('/text', (_req, res) => res.type('text/plain').send('plain words'));
    app.get('/slow', (_req, res) => void setTimeout(() => res.json({ late: true }), 1500));
    app.get('/echo-headers', (req, res) => res.json({ trace: req.headers['x-trace'] ?? null }));
    app.get('/fail', (_req, res) => res.status(500).json({ error: 'boom' }));
    app.get('/lookup', function findUser(_req, res) {
      res.json({ named: true });
    });
  });
  const orders = await startService(
    'order-service',
    (app) => {
      app.use(express.json());
      app.get('/orders/:userId', (req, res) => res.json([{ userId: req.params.userId, item: 'book' }]));
      app.post('/orders', (req, res) => res.status(201).json({ order: req.body }));
    },
    { peers: [users.url] },
  );
  await waitFor(() => upInstances(orders.micro, 'user-service').length === 1 && upInstances(users.micro, 'order-service').length === 1, 'both services see each other');
  return { users, orders };
}

describe('calls by name (the seed example)', () => {
  it('calls GET /users/:id as getUser, and GET /orders/:userId as getOrders, in both directions and on itself', async () => {
    const { users, orders } = await seedCluster();
    expect(await orders.micro.services.userService.getUser({ id: 7 })).toEqual({ id: '7', name: 'Grace', query: {} });
    expect(await users.micro.services.orderService.getOrders({ userId: 7 })).toEqual([{ userId: '7', item: 'book' }]);
    // A service calling itself.
    expect(await orders.micro.services.orderService.getOrders({ userId: 'u1' })).toEqual([{ userId: 'u1', item: 'book' }]);
  });

  it('reaches a service by camelCase, kebab-case and snake_case names', async () => {
    const { orders } = await seedCluster();
    const { services } = orders.micro;
    for (const client of [services.userService, services['user-service'], services.user_service]) {
      expect(await client!.getUser({ id: 1 })).toMatchObject({ id: '1' });
    }
  });

  it('sends POST/PUT leftovers as a JSON body and GET leftovers as the query', async () => {
    const { orders } = await seedCluster();
    const { services } = orders.micro;
    expect(await services.orderService.createOrder({ userId: 7, item: 'pen' })).toEqual({ order: { userId: 7, item: 'pen' } });
    expect(await services.userService.createUser({ name: 'Ada', tags: ['x'] })).toEqual({ created: { name: 'Ada', tags: ['x'] } });
    expect(await services.userService.updateUser({ userId: 3, name: 'Bo' })).toEqual({ updated: '3', body: { name: 'Bo' } });
    expect(await services.userService.getUser({ id: 7, fields: 'name', page: 2 })).toMatchObject({ query: { fields: 'name', page: '2' } });
    expect(await services.userService.getUsers({ tag: ['a', 'b'] })).toEqual({ all: true, query: { tag: ['a', 'b'] } });
    expect(await services.userService.getUserOrders({ id: 9 })).toEqual({ ordersOf: '9' });
  });

  it('URL-encodes path parameters and accepts a lone value for a one-parameter route', async () => {
    const { orders } = await seedCluster();
    expect(await orders.micro.services.userService.getUser({ id: 'a/b c?' })).toMatchObject({ id: 'a/b c?' });
    expect(await orders.micro.services.userService.getUser(42)).toMatchObject({ id: '42' });
  });

  it('calls a named handler by its own name as well as the derived one', async () => {
    const { orders } = await seedCluster();
    expect(await orders.micro.services.userService.findUser()).toEqual({ named: true });
    expect(await orders.micro.services.userService.getLookup()).toEqual({ named: true });
  });

  it('decodes JSON, text and 204', async () => {
    const { orders } = await seedCluster();
    const { services } = orders.micro;
    expect(await services.userService.getText()).toBe('plain words');
    expect(await services.userService.deleteUser({ id: 1 })).toBeUndefined();
  });

  it('throws RemoteError with status and parsed body on non-2xx, and a 404 does not mark the service DOWN', async () => {
    const { orders } = await seedCluster();
    const error = await orders.micro.services.userService.getUser({ id: 404 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(expressMicro.RemoteError);
    expect(error).toBeInstanceOf(expressMicro.ExpressMicroError);
    expect(error).toMatchObject({ status: 404, body: { error: 'no such user' }, service: 'user-service', call: 'getUser' });
    expect((error as Error).message).toContain('/users/404');
    const failure = await orders.micro.services.userService.getFail().catch((caught: unknown) => caught);
    expect(failure).toMatchObject({ status: 500, body: { error: 'boom' } });
    expect(upInstances(orders.micro, 'user-service')).toHaveLength(1);
  });

  it('fails with MissingParameterError before sending anything', async () => {
    const { users, orders } = await seedCluster();
    let hits = 0;
    users.app.use(() => hits++);
    const error = await orders.micro.services.userService.getUser({ name: 'x' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(expressMicro.MissingParameterError);
    expect(error).toMatchObject({ parameter: 'id' });
    expect(hits).toBe(0);
  });

  it('lists the names that exist when a name is unknown, and the service names when a service is', async () => {
    const { orders } = await seedCluster();
    const unknown = await orders.micro.services.userService.getUsr({ id: 1 }).catch((caught: unknown) => caught);
    expect(unknown).toBeInstanceOf(expressMicro.RouteNotFoundError);
    expect((unknown as Error).message).toContain('getUser');
    expect((unknown as { available: string[] }).available).toContain('createUser');
    const missing = await orders.micro.services.paymentService.charge({}).catch((caught: unknown) => caught);
    expect(missing).toBeInstanceOf(expressMicro.ServiceUnavailableError);
    expect((missing as Error).message).toContain('user-service');
  });

  it('refuses an ambiguous name and lists both routes; $call names a route directly', async () => {
    const users = await startService('user-service', (app) => {
      app.get('/users/:id', (req, res) => res.json({ by: 'id', id: req.params.id }));
      app.get('/people/users/:id', (req, res) => res.json({ by: 'people', id: req.params.id }));
    });
    await waitFor(() => users.micro.peers().length === 1, 'self registered');
    const error = await users.micro.services.userService.getUser({ id: 1 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(expressMicro.AmbiguousRouteError);
    expect((error as { routes: string[] }).routes).toEqual(['GET /users/:id', 'GET /people/users/:id']);
    expect(await users.micro.services.userService.$call('GET', '/people/users/:id', { id: 5 })).toEqual({ by: 'people', id: '5' });
  });

  it('applies per-call headers and timeout, and the default timeout', async () => {
    const { orders } = await seedCluster();
    const { services } = orders.micro;
    expect(await services.userService.getEchoHeaders({}, { headers: { 'x-trace': 'abc' } })).toEqual({ trace: 'abc' });
    const slow = await services.userService.getSlow({}, { timeout: 100 }).catch((caught: unknown) => caught);
    expect(slow).toBeInstanceOf(expressMicro.TimeoutError);
    expect(slow).toMatchObject({ timeout: 100 });
    // A timeout does not mark the instance DOWN.
    expect(upInstances(orders.micro, 'user-service')).toHaveLength(1);
  });

  it('rejects with the signal reason when aborted', async () => {
    const { orders } = await seedCluster();
    const controller = new AbortController();
    const pending = orders.micro.services.userService.getSlow({}, { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(pending).rejects.toThrow('caller gave up');
  });

  it('is not a thenable: awaiting a service or the proxy resolves at once', async () => {
    const { orders } = await seedCluster();
    const client = await orders.micro.services.userService;
    expect(typeof client.getUser).toBe('function');
    const all = await orders.micro.services;
    expect(typeof all.userService).toBe('object');
  });

  it('publishes routes defined after expressMicro() and after the first join', async () => {
    const { users, orders } = await seedCluster();
    users.app.get('/late/:id', (req, res) => res.json({ late: req.params.id }));
    await waitFor(async () => {
      try {
        return (await orders.micro.services.userService.getLate({ id: 1 })) !== undefined;
      } catch {
        return false;
      }
    }, 'late route visible to order-service', 4000);
    expect(await orders.micro.services.userService.getLate({ id: 2 })).toEqual({ late: '2' });
  });
});

describe('Express 4', () => {
  it('joins, publishes its routes and calls like an Express 5 app', async () => {
    const { default: express4 } = await import('express4');
    const app = express4();
    const micro = expressMicro(app as never, { serviceName: 'legacy-service', host: '127.0.0.1', secret: SECRET, pingInterval: 200, logger: false });
    app.use(express4.json());
    app.get('/items/:id', (req, res) => res.json({ id: req.params.id }));
    app.post('/items', (req, res) => res.json({ created: req.body }));
    const server = app.listen(0, '127.0.0.1');
    try {
      await waitFor(() => micro.url !== undefined, 'legacy listening');
      const modern = await startService('modern-service', () => {}, { peers: [micro.url!] });
      await waitFor(() => upInstances(modern.micro, 'legacy-service').length === 1 && upInstances(micro, 'modern-service').length === 1, 'both joined');
      expect(await modern.micro.services.legacyService.getItem({ id: 4 })).toEqual({ id: '4' });
      expect(await modern.micro.services.legacyService.createItem({ name: 'x' })).toEqual({ created: { name: 'x' } });
    } finally {
      await micro.close();
      server.close();
    }
  });
});
