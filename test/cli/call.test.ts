/**
 * `express-micro call` against a real cluster: answers (JSON, text, path parameters, query, body),
 * the library's typed errors as one line with exit 1, bad input with exit 2, and HMAC clusters,
 * including routes behind requireSignature().
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SECRET, startService, stopAll, waitFor } from '../helpers.ts';
import type { ClusterView } from '../../src/cli/cluster-view.ts';
import { deadUrl, freePortBefore, runCli, startCluster, startSilenceable, type TestCluster } from './support.ts';

afterEach(() => vi.unstubAllEnvs());

describe('express-micro call, Bearer cluster', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 30_000);
  afterAll(stopAll);

  const call = (...argv: string[]) => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    return runCli(['call', '--peer', cluster.orders.url, ...argv]);
  };

  it('makes a GET with path parameters (the rest goes in the query) and pretty-prints the JSON answer', async () => {
    expect(await call('user-service', 'getUser', '{"id":7,"fields":"name"}')).toEqual({ code: 0, out: '{\n  "id": "7",\n  "query": {\n    "fields": "name"\n  }\n}\n', err: '' });
  });

  it('accepts every spelling of the service name, a lone value for a lone parameter, and options anywhere', async () => {
    const expected = { code: 0, out: '{\n  "id": "7",\n  "query": {}\n}\n', err: '' };
    expect(await call('userService', 'getUser', '7')).toEqual(expected);
    expect(await call('user_service', 'getUser', '"7"')).toEqual(expected);
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    expect(await runCli(['call', 'USER-SERVICE', 'getUser', '--peer', cluster.users.url, '{"id":7}', '--timeout', '5000'])).toEqual(expected);
  });

  it('makes a POST with the arguments as JSON body, and prints text answers as they are', async () => {
    expect(await call('user-service', 'createUser', '{"name":"Ada","tags":["x"]}')).toEqual({ code: 0, out: '{\n  "created": {\n    "name": "Ada",\n    "tags": [\n      "x"\n    ]\n  }\n}\n', err: '' });
    expect(await call('user-service', 'motto')).toEqual({ code: 0, out: 'small services, called by name\n', err: '' });
    // The peer may be the service itself.
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    expect((await runCli(['call', '--peer', cluster.users.url, 'order-service', 'getOrders', '{"userId":3}'])).out).toBe('[\n  {\n    "userId": "3"\n  }\n]\n');
  });

  it('reports an error answer as RemoteError with its body, exit 1', async () => {
    expect(await call('user-service', 'getUser', '{"id":404}')).toEqual({
      code: 1,
      out: '',
      err: `express-micro call: RemoteError: user-service.getUser got 404 from ${cluster.users.url}/users/404: {"error":"no such user","id":"404"}\n`,
    });
  });

  it('reports an unknown call, an unknown service and a missing parameter with the library\'s errors, exit 1', async () => {
    expect(await call('user-service', 'getUsr', '{"id":1}')).toEqual({
      code: 1,
      out: '',
      err: 'express-micro call: RouteNotFoundError: service "user-service" has no route named "getUsr"; it has: createUser, getMotto, getUser, motto\n',
    });
    expect(await call('billing', 'charge')).toEqual({
      code: 1,
      out: '',
      err: 'express-micro call: ServiceUnavailableError: service "billing" is unavailable for charge: no such service is known (known: order-service, user-service)\n',
    });
    expect(await call('user-service', 'getUser', '{}')).toEqual({ code: 1, out: '', err: 'express-micro call: MissingParameterError: user-service.getUser needs "id" for /users/:id\n' });
  });

  it.each([
    [['user-service', 'getUser', '{"id":7'], /^the arguments are not JSON \(.*\) here: "\{\\"id\\":7" >>> ""; give an object, like '\{"id":7\}'$/],
    [['user-service', 'getUser', "{'id':7}"], /^the arguments are not JSON \(.*position 1.*\) here: "\{" >>> "'id':7\}"; give an object/],
    [['user-service', 'getUser', '[7]'], /^user-service\.getUser takes a JSON object of arguments, not an array; like '\{"id":7\}'$/],
    [['user-service', 'createUser', '"Ada"'], /^user-service\.createUser takes a JSON object of arguments, not a lone string \(only for a route with one path parameter\)/],
    [['user-service'], /^give a service and a call name: express-micro call <service> <callName> \[json-args\]$/],
    [['user-service', 'getUser', '{}', 'extra'], /^unexpected argument "extra" \(at most 3 arguments besides options\)$/],
    [['user-service', 'getUser', '--nope'], /^unknown option --nope$/],
    [['user-service', 'getUser', '--timeout', '0'], /^--timeout "0": give a whole number of milliseconds, at least 1$/],
  ])('%j is bad input: exit 2, one line', async (argv, message) => {
    const run = await call(...argv);
    expect(run.code).toBe(2);
    expect(run.out).toBe('');
    expect(run.err.endsWith('\n') && run.err.split('\n').length === 2).toBe(true);
    expect(run.err.replace(/^express-micro call: /, '').trimEnd()).toMatch(message);
  });

  it('exits 2 when no peer answers or the secret is refused, and takes arguments starting with -- after --', async () => {
    const dead = await deadUrl();
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    expect(await runCli(['call', '--peer', dead, 'user-service', 'getUser', '7'])).toEqual({ code: 2, out: '', err: `express-micro call: cannot reach ${dead}: cannot connect (ECONNREFUSED); is a service listening there?\n` });
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', 'not-the-secret-0123456789abcdef0123456789');
    const refused = await runCli(['call', '--peer', cluster.users.url, 'user-service', 'getUser', '7']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('refused the secret (401');
    const dashes = await call('user-service', 'getUser', '--', '"--7"');
    expect(dashes).toEqual({ code: 0, out: '{\n  "id": "--7",\n  "query": {}\n}\n', err: '' });
  });

  it('goes to the next instance when one cannot be reached, and says TimeoutError when the answer is late', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const slow = await startService('slow-service', (app) => app.get('/slow', function slow(_req, res) {
      setTimeout(() => res.json({ late: true }), 2000);
    }), { peers: [cluster.users.url] });
    await waitFor(() => cluster.users.micro.peers().some((peer) => peer.service === 'slow-service' && peer.status === 'UP'), 'slow-service UP', 10_000);
    const late = await runCli(['call', '--peer', cluster.users.url, 'slow-service', 'slow', '--timeout', '200']);
    expect(late).toEqual({ code: 1, out: '', err: `express-micro call: TimeoutError: slow-service.slow got no answer from ${slow.url}/slow within 200 ms\n` });

    // A second user-service instance, listed (and so tried) first, that has gone silent: while
    // the peers still list it UP, the call fails to connect to it and goes to the other one.
    const silent = await startSilenceable('user-service', [cluster.users.url], {}, await freePortBefore(cluster.users.url));
    await waitFor(() => cluster.orders.micro.peers().filter((peer) => peer.service === 'user-service' && peer.status === 'UP').length === 2, 'two user-service instances', 10_000);
    await silent.silence();
    const answer = await call('user-service', 'getUser', '5');
    const view = JSON.parse((await runCli(['status', '--peer', cluster.orders.url, '--json'])).out) as ClusterView;
    expect(answer).toEqual({ code: 0, out: '{\n  "id": "5",\n  "query": {}\n}\n', err: '' });
    // It was still a candidate, listed first: DOWN comes only after several failed pings.
    const listed = view.rows.filter((row) => row.service === 'user-service');
    expect(listed.map((row) => row.url)).toEqual([silent.url, cluster.users.url]);
    expect(listed[0]?.status).not.toBe('DOWN');
    await silent.stop();
  }, 30_000);
});

describe('express-micro call, HMAC cluster', () => {
  afterAll(stopAll);

  it('signs the call for the instance, so routes behind requireSignature() accept it; says to add --hmac without it', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const { users } = await startCluster({ enableHmac: true });
    const secure = await startService(
      'secure-service',
      (app, micro) => {
        app.use('/accounts', micro.requireSignature());
        app.get('/accounts/:id', (req, res) => res.json({ id: req.params.id, signed: true }));
        app.post('/accounts', (req, res) => res.status(201).json({ created: req.body }));
      },
      { enableHmac: true, peers: [users.url] },
    );
    await waitFor(() => users.micro.peers().some((peer) => peer.service === 'secure-service' && peer.status === 'UP'), 'secure-service UP', 10_000);

    expect(await runCli(['call', '--peer', users.url, '--hmac', 'secureService', 'getAccount', '{"id":"a1"}'])).toEqual({ code: 0, out: '{\n  "id": "a1",\n  "signed": true\n}\n', err: '' });
    expect(await runCli(['call', '--peer', users.url, '--hmac', 'secure-service', 'createAccount', '{"n":1}'])).toEqual({ code: 0, out: '{\n  "created": {\n    "n": 1\n  }\n}\n', err: '' });
    expect((await runCli(['call', '--peer', users.url, '--hmac', 'user-service', 'getUser', '8'])).code).toBe(0);

    // Unsigned: the discovery request is refused before any call is made.
    const plain = await runCli(['call', '--peer', users.url, 'secure-service', 'getAccount', '{"id":"a1"}']);
    expect(plain.code).toBe(2);
    expect(plain.err).toMatch(/the cluster signs its requests \(enableHmac\): add --hmac\n$/);
    // A signature made with another secret is refused by discovery too: exit 2, never a call.
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', 'not-the-secret-0123456789abcdef0123456789');
    const forged = await runCli(['call', '--peer', users.url, '--hmac', 'secure-service', 'getAccount', '{"id":"a1"}']);
    expect(forged.code).toBe(2);
    expect(forged.err).toContain('refused the secret (401');
    await secure.stop();
  }, 30_000);
});
