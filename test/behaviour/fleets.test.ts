/**
 * A service is not one pool (issue 26): half way through a rolling deploy its instances publish
 * different routes. Each call goes to an instance that serves its route, at that instance's own
 * path; an instance whose table row is stale says so (421) before its app sees the call, and the
 * call moves on; an application's own 404 is never retried.
 */
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { AmbiguousRouteError, RemoteError, RouteNotFoundError, ServiceUnavailableError } from '../../src/index.ts';
import type { Instance } from '../../src/discovery/index.ts';
import { inZone } from '../../src/client/zones.ts';
import { startService, stopAll, upInstances, waitFor, type TestService } from '../helpers.ts';

afterEach(stopAll);

/** Requests each app's handlers (not the route guard) saw, by version and path. */
type Seen = Map<string, number>;

/**
 * user-service at `version`: v2 adds `/reports` (GET and POST), moves `getAccount` from
 * `/api/v1/accounts/:id` to `/api/v2/accounts/:id`, and removes `/legacy` (GET and POST).
 * Every answer says which version served it; anything else is the app's own 404.
 */
function userService(version: 1 | 2, seen: Seen) {
  return (app: express.Express): void => {
    app.use(express.json());
    app.use((req, _res, next) => {
      seen.set(`v${version} ${req.method} ${req.path}`, (seen.get(`v${version} ${req.method} ${req.path}`) ?? 0) + 1);
      next();
    });
    app.get('/users/:id', (req, res) => {
      if (req.params.id === 'nobody') return void res.status(404).json({ error: 'no such user' });
      res.json({ version, id: req.params.id });
    });
    if (version === 1) {
      app.get('/api/v1/accounts/:id', function getAccount(req, res) {
        res.json({ version, account: req.params.id });
      });
      app.get('/legacy', (_req, res) => res.json({ version, legacy: true }));
      app.post('/legacy', (req, res) => res.status(201).json({ version, legacy: req.body }));
    } else {
      app.get('/api/v2/accounts/:accountId', function getAccount(req, res) {
        res.json({ version, account: req.params.accountId });
      });
      app.get('/reports', (_req, res) => res.json({ version, reports: [] }));
      app.post('/reports', (req, res) => res.status(201).json({ version, report: req.body }));
    }
    app.use((_req, res) => void res.status(404).json({ error: 'not found here' }));
  };
}

function routesSeenBy(micro: TestService['micro'], url: string): string[] {
  const peer = micro.peers().find((each) => each.url === url && each.status === 'UP');
  return peer ? peer.routes.map((route) => `${route.method} ${route.path}`) : [];
}

describe('a service half way through a rolling deploy (v1, v1, v2)', () => {
  it('sends each call to an instance that serves its route, at that instance’s own path', async () => {
    const seen: Seen = new Map();
    const a = await startService('user-service', userService(1, seen));
    const b = await startService('user-service', userService(1, seen), { peers: [a.url] });
    const c = await startService('user-service', userService(2, seen), { peers: [a.url] });
    const orders = await startService('order-service', () => {}, { peers: [a.url] });
    await waitFor(() => upInstances(orders.micro, 'user-service').length === 3 && routesSeenBy(orders.micro, c.url).includes('GET /reports'), 'the caller sees all three with their routes');
    const users = orders.micro.services.userService;

    const versions = { reports: new Set<number>(), created: new Set<number>(), legacy: new Set<number>(), legacyPost: new Set<number>(), accounts: new Set<number>() };
    for (let index = 0; index < 40; index++) {
      versions.reports.add(((await users.getReports()) as { version: number }).version);
      versions.created.add(((await users.createReport({ n: index })) as { version: number }).version);
      versions.legacy.add(((await users.getLegacy()) as { version: number }).version);
      versions.legacyPost.add(((await users.createLegacy({ n: index })) as { version: number }).version);
      const account = (await users.getAccount({ id: index, accountId: index })) as { version: number; account: string };
      expect(account.account).toBe(String(index));
      versions.accounts.add(account.version);
    }
    // Only v2 serves /reports, only v1 /legacy.
    // getAccount is served by both: calls reach both, each at its own path (bounded: the balancer may favour one for a while).
    for (let index = 0; index < 2000 && versions.accounts.size < 2; index++) {
      const account = (await users.getAccount({ id: index, accountId: index })) as { version: number; account: string };
      expect(account.account).toBe(String(index));
      versions.accounts.add(account.version);
    }
    expect(versions).toEqual({ reports: new Set([2]), created: new Set([2]), legacy: new Set([1]), legacyPost: new Set([1]), accounts: new Set([1, 2]) });
    expect([...seen.keys()].filter((key) => key.startsWith('v1') && key.includes('/reports'))).toEqual([]);
    expect([...seen.keys()].filter((key) => key.startsWith('v2') && key.includes('/legacy'))).toEqual([]);
    // A lone value fills the one parameter of whichever route the chosen instance has.
    expect(await users.getAccount(5)).toMatchObject({ account: '5' });

    // $call prefers the instances that publish the method and path.
    for (let index = 0; index < 20; index++) expect(await users.$call('GET', '/reports')).toMatchObject({ version: 2 });
    // A name none publishes fails at the caller.
    await expect(users.getNothing()).rejects.toBeInstanceOf(RouteNotFoundError);

    // The only v2 instance goes: its routes' calls fail at the caller, before anything is sent.
    await c.stop();
    await waitFor(() => !upInstances(orders.micro, 'user-service').includes(c.url), 'the caller sees v2 gone');
    const before = [...seen.values()].reduce((sum, count) => sum + count, 0);
    const error = await users.getReports().catch((failure: unknown) => failure);
    expect([ServiceUnavailableError, RouteNotFoundError].some((type) => error instanceof type)).toBe(true);
    await expect(users.createReport({})).rejects.toThrow(/reports|createReport/);
    expect([...seen.values()].reduce((sum, count) => sum + count, 0)).toBe(before);
    expect(await users.getLegacy()).toMatchObject({ version: 1 });
    void b;
  }, 30_000);

  it('judges a name ambiguous only within one instance', async () => {
    const a = await startService('user-service', (app) => {
      app.get('/one', function pick(_req, res) {
        res.json({ from: 'one' });
      });
      app.get('/two', function pick(_req, res) {
        res.json({ from: 'two' });
      });
    });
    const orders = await startService('order-service', () => {}, { peers: [a.url] });
    await waitFor(() => upInstances(orders.micro, 'user-service').length === 1, 'the caller sees user-service');
    await expect(orders.micro.services.userService.pick()).rejects.toBeInstanceOf(AmbiguousRouteError);
    // A second version where the name is one route: calls go there, never to the ambiguous one.
    const b = await startService(
      'user-service',
      (app) =>
        app.get('/three', function pick(_req, res) {
          res.json({ from: 'three' });
        }),
      { peers: [a.url] },
    );
    await waitFor(() => routesSeenBy(orders.micro, b.url).includes('GET /three'), 'the caller sees the second version');
    for (let index = 0; index < 20; index++) expect(await orders.micro.services.userService.pick()).toEqual({ from: 'three' });
  }, 20_000);
});

describe('answers that are not the route', () => {
  it('never retries an application’s own 404', async () => {
    const seen: Seen = new Map();
    const a = await startService('user-service', userService(1, seen));
    const b = await startService('user-service', userService(1, seen), { peers: [a.url] });
    const orders = await startService('order-service', () => {}, { peers: [a.url] });
    await waitFor(() => upInstances(orders.micro, 'user-service').length === 2, 'the caller sees both');
    for (let index = 0; index < 10; index++) {
      const error = await orders.micro.services.userService.getUser({ id: 'nobody' }).catch((failure: unknown) => failure);
      expect(error).toBeInstanceOf(RemoteError);
      expect((error as RemoteError).status).toBe(404);
    }
    expect(seen.get('v1 GET /users/nobody')).toBe(10);
    void b;
  });

  it('answers 421 only to a call naming a route it does not serve, and under HMAC only to a signed one; everything else reaches the app', async () => {
    const seen: Seen = new Map();
    const open = await startService('user-service', userService(1, seen));
    const misrouted = await fetch(`${open.url}/nothing`, { headers: { 'x-micro-route': 'GET /nothing' } });
    expect(misrouted.status).toBe(421);
    expect(misrouted.headers.get('content-type')).toBe('application/vnd.express-micro.misrouted+json');
    expect(seen.get('v1 GET /nothing')).toBeUndefined();
    // Without the header (a browser, curl, an older caller): the app answers, its own 404.
    expect((await fetch(`${open.url}/nothing`)).status).toBe(404);
    expect(seen.get('v1 GET /nothing')).toBe(1);
    // A published route named in the header: served as usual; malformed or oversized values are routes it does not serve.
    expect((await fetch(`${open.url}/legacy`, { headers: { 'x-micro-route': 'GET /legacy' } })).status).toBe(200);
    for (const value of ['GET', 'x'.repeat(8000), 'get /legacy', 'GET /legacy/']) {
      expect((await fetch(`${open.url}/legacy`, { headers: { 'x-micro-route': value } })).status).toBe(421);
    }

    // Under HMAC an unsigned or badly signed request naming a route goes on to the app (whose
    // requireSignature refuses it as usual), so an outsider learns nothing about the routes.
    const signedSeen: Seen = new Map();
    const signed = await startService('user-service', userService(1, signedSeen), { enableHmac: true });
    const attempts: Record<string, string>[] = [{ 'x-micro-route': 'GET /nothing' }, { 'x-micro-route': 'GET /nothing', 'x-micro-signature': 'forged', 'x-micro-timestamp': String(Date.now()), 'x-micro-nonce': 'n1' }];
    for (const headers of attempts) {
      expect((await fetch(`${signed.url}/nothing`, { headers })).status).toBe(404);
    }
    expect(signedSeen.get('v1 GET /nothing')).toBe(2);
    // A signed call (from a member of the cluster) naming it gets the 421, through the caller.
    const caller = await startService('order-service', () => {}, { enableHmac: true, peers: [signed.url] });
    await waitFor(() => routesSeenBy(caller.micro, signed.url).includes('GET /legacy'), 'the caller sees the signed service');
    expect(await caller.micro.services.userService.getLegacy()).toMatchObject({ version: 1 });
    const error = await caller.micro.services.userService.$call('GET', '/nothing').catch((failure: unknown) => failure);
    // A path none publishes is sent as written, without naming a route: the app's own 404.
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).status).toBe(404);
  });
});

describe('$with(selector)', () => {
  it('restricts calls to the instances whose metadata match every label, and fails at the caller when none does', async () => {
    const seen: Seen = new Map();
    const v1 = await startService('user-service', userService(1, seen), { metadata: { version: '1' } });
    const v2 = await startService('user-service', userService(2, seen), { metadata: { version: '2', track: 'canary' }, peers: [v1.url] });
    const orders = await startService('order-service', () => {}, { peers: [v1.url] });
    await waitFor(() => upInstances(orders.micro, 'user-service').length === 2 && orders.micro.peers().some((peer) => peer.url === v2.url && peer.metadata.track === 'canary'), 'the caller sees both with their labels');
    const users = orders.micro.services.userService;
    const canary = users.$with({ track: 'canary' });
    // Made once per selector: the same client, so its pools are not built again.
    expect(users.$with({ track: 'canary' })).toBe(canary);
    expect(users.$with({ version: '2', track: 'canary' })).toBe(users.$with({ track: 'canary', version: '2' }));
    for (let index = 0; index < 20; index++) {
      expect(await canary.getUser({ id: index })).toMatchObject({ version: 2 });
      expect(await users.$with({ version: '1' }).getUser({ id: index })).toMatchObject({ version: 1 });
      expect(await canary.getAccount(index)).toMatchObject({ version: 2, account: String(index) });
      expect(await users.$with({ version: '1' }).$call('GET', '/users/:id', { id: index })).toMatchObject({ version: 1 });
    }
    // A $with of a $with narrows it.
    expect(await users.$with({ version: '2' }).$with({ track: 'canary' }).getUser(1)).toMatchObject({ version: 2 });

    const before = [...seen.values()].reduce((sum, count) => sum + count, 0);
    const none = await users.$with({ version: '3' }).getUser(1).catch((failure: unknown) => failure);
    expect(none).toBeInstanceOf(ServiceUnavailableError);
    expect((none as Error).message).toMatch(/no instance matches \$with\(\{"version":"3"\}\)/);
    // v2 serves getReports but is not version 1: never a call to a non-matching instance.
    await expect(users.$with({ version: '1' }).getReports()).rejects.toBeInstanceOf(ServiceUnavailableError);
    await expect(users.$with({ version: '3' }).$call('GET', '/users/:id', { id: 1 })).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect([...seen.values()].reduce((sum, count) => sum + count, 0)).toBe(before);

    // Bad selectors fail with a clear error.
    expect(() => users.$with('2' as unknown as Record<string, string>)).toThrow(/\$with takes an object/);
    expect(() => users.$with({ version: 2 } as unknown as Record<string, string>)).toThrow(/"version" must be a string/);
  }, 20_000);
});

describe('the README section and docs/rolling-deploys.md', () => {
  it('run as written against a v1 and a v2 instance', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const guide = readFileSync(new URL('../../docs/rolling-deploys.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Rolling deploys, canaries and zones'));
    const blocks = [...section.slice(0, section.indexOf('\n## ', 5)).matchAll(/```js\n([\s\S]*?)```/g), ...guide.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1] as string);
    expect(blocks.length).toBe(2);
    const v1 = await startService('user-service', (app) => app.get('/users/:id', (req, res) => res.json({ version: 1, id: req.params.id })), { metadata: { version: '1' } });
    const v2 = await startService(
      'user-service',
      (app) => {
        app.get('/users/:id', (req, res) => res.json({ version: 2, id: req.params.id }));
        app.get('/reports/:id', (req, res) => res.json({ version: 2, report: req.params.id }));
      },
      { metadata: { version: '2' }, peers: [v1.url] },
    );
    const orders = await startService('order-service', () => {}, { peers: [v1.url] });
    await waitFor(() => upInstances(orders.micro, 'user-service').length === 2 && routesSeenBy(orders.micro, v2.url).includes('GET /reports/:id'), 'the caller sees both');
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (micro: unknown) => Promise<unknown>;
    for (const block of blocks) {
      // Each block runs with `micro`, and its last `const` (if any) is handed back to check.
      const names = [...block.matchAll(/^const (\w+) =/gm)].map((match) => match[1]);
      const run = new AsyncFunction('micro', `${block}\nreturn { ${names.join(', ')} };`);
      const values = (await run(orders.micro)) as Record<string, { version: number }>;
      for (const name of names.filter((each) => each !== 'canary')) expect(values[name as string]?.version).toBe(2);
    }
  });
});

describe('the zone rule', () => {
  type Row = { zone?: string; status?: 'UP' | 'DOWN'; suspect?: boolean; ejected?: boolean };
  const instances = (rows: Row[]): Instance[] =>
    rows.map((row, index) => ({ id: `i${index}`, zone: row.zone, status: row.status ?? 'UP', suspect: row.suspect ?? false, ejectedUntil: row.ejected ? Date.now() + 30_000 : 0 }) as unknown as Instance);
  const rotation = (all: Instance[]) => all.filter((instance) => instance.status === 'UP' && !instance.suspect && instance.ejectedUntil === 0);
  const preferred = (rows: Row[]) => {
    const all = instances(rows);
    return inZone('a', all, rotation(all))?.map((instance) => instance.id);
  };

  it('prefers the healthy instances of the zone while they are at least half of it, and no zone means no preference', () => {
    expect(preferred([{ zone: 'a' }, { zone: 'a' }, { zone: 'b' }, { zone: 'b' }])).toEqual(['i0', 'i1']);
    // Half the zone unhealthy (suspected, ejected or DOWN): the other half still takes the zone's calls.
    expect(preferred([{ zone: 'a' }, { zone: 'a', suspect: true }, { zone: 'b' }, { zone: 'b' }])).toEqual(['i0']);
    expect(preferred([{ zone: 'a' }, { zone: 'a', status: 'DOWN' }, { zone: 'b' }])).toEqual(['i0']);
    // More than half: spill over to every zone.
    expect(preferred([{ zone: 'a' }, { zone: 'a', ejected: true }, { zone: 'a', status: 'DOWN' }, { zone: 'b' }])).toBeUndefined();
    expect(preferred([{ zone: 'a', suspect: true }, { zone: 'a', suspect: true }, { zone: 'b' }])).toBeUndefined();
    // None in the zone, or every instance in it anyway: nothing to prefer.
    expect(preferred([{ zone: 'b' }, { zone: 'c' }])).toBeUndefined();
    expect(preferred([{ zone: 'a' }, { zone: 'a' }])).toBeUndefined();
    const all = instances([{ zone: 'a' }, { zone: 'b' }]);
    expect(inZone(undefined, all, rotation(all))).toBeUndefined();
  });
});
