/**
 * Issue 5, point 2: forged and replayed requests with enableHmac. Real signed traffic between two
 * services is captured (a recording proxy between them for discovery, a middleware for calls),
 * then replayed, re-aimed at another path, given another body, another method, a stale or future
 * timestamp, or stripped of a header: every one is refused with 401 and its reason. Then the secret
 * is searched for in every response (status line, headers, body), every request seen on the wire,
 * every log line (a logger that records all levels) and every error a call or an option threw.
 */
import express from 'express';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import expressMicro, { RemoteError, TimeoutError } from '../../src/index.ts';
import { createVerifier, signRequest } from '../../src/security/index.ts';
import { killAll, recordingLogger, SECRET, spawnService, waitFor } from '../helpers.ts';
import { startApp, stopApps, type FaultService } from './helpers.ts';

const servers: Server[] = [];
const savedKey = process.env.EXPRESS_DISCOVERY_KEY;
delete process.env.EXPRESS_DISCOVERY_KEY; // the options below must be the secret's only source
afterAll(async () => {
  if (savedKey !== undefined) process.env.EXPRESS_DISCOVERY_KEY = savedKey;
  await killAll();
  await stopApps();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Everything the suite saw, to be searched for the secret at the end. */
const seen: { where: string; text: string }[] = [];
const record = (where: string, text: string) => seen.push({ where, text });

interface Exchange {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  status?: number;
  answer?: string;
}

/** A reverse proxy on 127.0.0.1 that records every request and answer passing through. */
async function recordingProxy(target: string): Promise<{ url: string; log: Exchange[] }> {
  const log: Exchange[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const exchange: Exchange = { method: req.method!, url: req.url!, headers: { ...req.headers }, body: Buffer.concat(chunks).toString() };
      log.push(exchange);
      const headers = forwardable(req.headers);
      try {
        const upstream = await fetch(target + exchange.url, { method: exchange.method, headers, body: exchange.method === 'GET' ? undefined : exchange.body });
        exchange.status = upstream.status;
        exchange.answer = await upstream.text();
        record(`proxied answer headers ${exchange.url}`, JSON.stringify([...upstream.headers]));
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
        res.end(exchange.answer);
      } catch {
        res.writeHead(502).end();
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log };
}

/** Headers as captured, without the hop-by-hop ones fetch sets itself. */
function forwardable(headers: IncomingHttpHeaders): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(name) || value === undefined) continue;
    result[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return result;
}

/** Sends a request straight to a service and records what came back. */
async function send(url: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; reason: string }> {
  // Marked, so the capture skips what the test itself sent (some of it carries the secret on purpose).
  const marked = { 'x-fault-test': '1', ...headers };
  const response = await fetch(url + path, { method, headers: body === undefined ? marked : { 'content-type': 'application/json', ...marked }, body });
  const text = await response.text();
  record(`answer ${method} ${path}`, `${response.status} ${JSON.stringify([...response.headers])} ${text}`);
  let reason = text;
  try {
    reason = (JSON.parse(text) as { reason?: string }).reason ?? text;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, reason };
}

/** The id of the instance a test signs for: the seed, for calls to its own routes. */
let audience = '';
// Calls to the app's routes are signed for the receiving instance; discovery messages for none.
const sign = (method: string, path: string, body?: string, now?: number) => signRequest(SECRET, method, path, body, now, path.startsWith('/private') ? audience : '');

describe('forged and replayed requests with enableHmac', () => {
  const { lines, logger } = recordingLogger();
  let seed: FaultService;
  let client: FaultService;
  let proxy: { url: string; log: Exchange[] };
  const captured: Exchange[] = [];

  it('joins and calls through signed requests only (the traffic the next cases replay)', async () => {
    seed = await startApp('user-service', {
      front: (req, _res, next) => {
        if (req.headers['x-fault-test'] === undefined) captured.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers }, body: '' });
        next();
      },
      define: (app, micro) => {
        app.use('/private', micro.requireSignature());
        app.use(express.json());
        app.get('/private/users/:id', (req, res) => res.json({ id: req.params.id }));
        app.post('/private/notes', (req, res) => res.json({ got: req.body }));
        app.get('/private/fail', (_req, res) => res.status(500).json({ error: 'boom' }));
        app.get('/private/hang', () => {}); // never answers
      },
      options: { enableHmac: true, logger },
    });
    audience = seed.micro.peers().find((peer) => peer.self)!.id;
    proxy = await recordingProxy(seed.url);
    // The client's seed is the proxy: its joins (and every re-join of the seed URL) pass through it.
    client = await startApp('order-service', { options: { enableHmac: true, logger, peers: [proxy.url] } });
    await waitFor(() => client.micro.peers().some((peer) => peer.service === 'user-service' && peer.status === 'UP'), 'client joined through the proxy');
    await waitFor(() => proxy.log.some((exchange) => exchange.url === '/_discovery/register' && exchange.status === 200), 'a signed register recorded');

    expect(await client.micro.services.userService.$call('GET', '/private/users/:id', { id: 7 })).toEqual({ id: '7' });
    expect(await client.micro.services.userService.$call('POST', '/private/notes', { text: 'hi' })).toEqual({ got: { text: 'hi' } });
    for (const exchange of [...proxy.log, ...captured]) {
      expect(exchange.headers.authorization, `${exchange.method} ${exchange.url} carries no bearer`).toBeUndefined();
      if (exchange.url.startsWith('/_discovery') || exchange.url.startsWith('/private')) expect(exchange.headers['x-micro-signature']).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('refuses a captured signed request sent again: discovery register, GET and POST calls', async () => {
    const register = proxy.log.find((exchange) => exchange.url === '/_discovery/register' && exchange.status === 200)!;
    const before = JSON.stringify(seed.micro.peers().map((peer) => peer.id).sort());
    expect(await send(seed.url, 'POST', register.url, forwardable(register.headers), register.body)).toEqual({ status: 401, reason: 'replayed nonce' });
    expect(JSON.stringify(seed.micro.peers().map((peer) => peer.id).sort())).toBe(before);

    const get = captured.find((exchange) => exchange.method === 'GET' && exchange.url === '/private/users/7')!;
    expect(await send(seed.url, 'GET', get.url, forwardable(get.headers))).toEqual({ status: 401, reason: 'replayed nonce' });
    const post = captured.find((exchange) => exchange.method === 'POST' && exchange.url === '/private/notes')!;
    expect(await send(seed.url, 'POST', post.url, forwardable(post.headers), '{"text":"hi"}')).toEqual({ status: 401, reason: 'replayed nonce' });
    // Replayed many times, in parallel: never accepted once.
    const storm = await Promise.all(Array.from({ length: 20 }, () => send(seed.url, 'POST', post.url, forwardable(post.headers), '{"text":"hi"}')));
    expect(storm.every((answer) => answer.status === 401)).toBe(true);
  });

  it('refuses a signature made for another path, query, method or body', async () => {
    const url = seed.url;
    const ping = JSON.stringify({ id: 'abcdef0123456789', url: 'http://127.0.0.1:9', updates: [] });
    const cases: [string, Promise<{ status: number; reason: string }>, string][] = [
      ['another path', send(url, 'GET', '/private/users/8', sign('GET', '/private/users/7')), 'wrong signature'],
      ['another query', send(url, 'GET', '/private/users/7?admin=1', sign('GET', '/private/users/7?admin=0')), 'wrong signature'],
      ['path without its query', send(url, 'GET', '/private/users/7', sign('GET', '/private/users/7?x=1')), 'wrong signature'],
      ['another method', send(url, 'POST', '/private/notes', sign('PUT', '/private/notes', '{}'), '{}'), 'wrong signature'],
      ['discovery: another endpoint', send(url, 'POST', '/_discovery/leave', sign('POST', '/_discovery/ping', ping), ping), 'wrong signature'],
      ['discovery: unmounted path', send(url, 'POST', '/_discovery/ping', sign('POST', '/ping', ping), ping), 'wrong signature'],
      ['another body', send(url, 'POST', '/private/notes', sign('POST', '/private/notes', '{"text":"hi"}'), '{"text":"ho"}'), 'body does not match its signed hash'],
      ['discovery: another body', send(url, 'POST', '/_discovery/ping', sign('POST', '/_discovery/ping', ping), ping.replace('abcdef01', 'abcdef02')), 'body does not match its signature'],
      ['another secret', send(url, 'GET', '/private/users/7', signRequest('an-entirely-different-secret-0123456789', 'GET', '/private/users/7', undefined, undefined, audience)), 'wrong signature'],
      // A call signed for another instance (a twin of this service, say) is not for this one.
      ['another instance', send(url, 'GET', '/private/users/7', signRequest(SECRET, 'GET', '/private/users/7', undefined, undefined, 'fedcba9876543210')), 'signed for another instance'],
      ['no instance', send(url, 'GET', '/private/users/7', signRequest(SECRET, 'GET', '/private/users/7', undefined)), 'signed for another instance'],
    ];
    for (const [label, answer, reason] of cases) expect(await answer, label).toEqual({ status: 401, reason });

    // Captured headers with a fresh timestamp: the signature no longer matches.
    const get = captured.find((exchange) => exchange.url === '/private/users/7')!;
    const refreshed = { ...forwardable(get.headers), 'x-micro-timestamp': String(Date.now()) };
    expect(await send(url, 'GET', '/private/users/7', refreshed)).toEqual({ status: 401, reason: 'wrong signature' });
    // Control: the same request freshly signed is accepted.
    expect((await send(url, 'GET', '/private/users/7', sign('GET', '/private/users/7'))).status).toBe(200);
    expect((await send(url, 'POST', '/_discovery/ping', sign('POST', '/_discovery/ping', ping), ping)).status).toBe(200);
  });

  it('refuses timestamps outside the 30 s window, and missing or malformed signature headers', async () => {
    const url = seed.url;
    const now = Date.now();
    for (const [label, at, reason] of [
      ['31 s old', now - 31_000, 'stale timestamp'],
      ['an hour old', now - 3_600_000, 'stale timestamp'],
      ['the epoch', 0, 'stale timestamp'],
      ['31 s ahead', now + 31_000, 'timestamp in the future'],
      ['far future', 9_999_999_999_999, 'timestamp in the future'],
    ] as const) {
      expect(await send(url, 'GET', '/private/users/7', sign('GET', '/private/users/7', undefined, at)), label).toEqual({ status: 401, reason });
      expect(await send(url, 'GET', '/_discovery/services', sign('GET', '/_discovery/services', undefined, at)), `discovery, ${label}`).toEqual({ status: 401, reason });
    }
    // Just inside the window is accepted (the window is real, not "everything fails").
    expect((await send(url, 'GET', '/private/users/7', sign('GET', '/private/users/7', undefined, now - 25_000))).status).toBe(200);

    const headerCases: [string, (headers: Record<string, string>) => void, string][] = [
      ['no nonce', (headers) => delete headers['x-micro-nonce'], 'missing or repeated nonce header'],
      ['no timestamp', (headers) => delete headers['x-micro-timestamp'], 'missing or repeated timestamp header'],
      ['no signature', (headers) => delete headers['x-micro-signature'], 'missing or repeated signature header'],
      ['no body hash', (headers) => delete headers['x-micro-content-sha256'], 'missing or repeated body hash header'],
      ['short nonce', (headers) => (headers['x-micro-nonce'] = 'abc'), 'malformed nonce'],
      ['non-hex signature', (headers) => (headers['x-micro-signature'] = 'z'.repeat(64)), 'malformed signature'],
      ['negative timestamp', (headers) => (headers['x-micro-timestamp'] = '-1'), 'malformed timestamp'],
    ];
    for (const [label, change, reason] of headerCases) {
      for (const path of ['/private/users/7', '/_discovery/services']) {
        const headers = sign('GET', path);
        change(headers);
        expect(await send(url, 'GET', path, headers), `${label} on ${path}`).toEqual({ status: 401, reason });
      }
    }
    // The secret alone (a Bearer header) is not enough in HMAC mode.
    expect((await send(url, 'GET', '/_discovery/services', { authorization: `Bearer ${SECRET}` })).status).toBe(401);
    expect((await send(url, 'GET', '/private/users/7', { authorization: `Bearer ${SECRET}` })).status).toBe(401);
  });

  it('never shows the secret in a response, a request on the wire, a log line or an error', async () => {
    // Provoke logging: a peer with another secret tries to join; a known peer dies; a listener throws.
    const intruder = await startApp('intruder-service', { options: { enableHmac: true, logger, secret: 'an-entirely-different-secret-0123456789', peers: [seed.url] } });
    await intruder.micro.ready;
    // A peer in its own process, killed without a leave: the seed's pings fail and it warns.
    const mortal = await spawnService('mortal-service', { enableHmac: true, peers: [seed.url] });
    await waitFor(() => seed.micro.peers().some((peer) => peer.service === 'mortal-service' && peer.status === 'UP'), 'mortal joined');
    seed.micro.on('down', () => {
      throw new Error('listener failure');
    });
    await mortal.kill();
    await waitFor(() => lines.some((line) => line.startsWith('warn ') && line.includes('mortal-service')), 'the seed warns that mortal is DOWN');

    // Provoke errors of every kind a call or an option can throw.
    const errors: unknown[] = [];
    const calls: Promise<unknown>[] = [
      client.micro.services.nobodyService.getThing(),
      client.micro.services.userService.noSuchCall(),
      client.micro.services.userService.$call('GET', '/private/fail'),
      client.micro.services.userService.$call('GET', '/private/hang', {}, { timeout: 100 }),
      client.micro.services.userService.$call('GET', '/private/users/:id', {}),
      intruder.micro.services.userService.getUser({ id: 1 }),
    ];
    for (const outcome of await Promise.allSettled(calls)) errors.push(outcome.status === 'rejected' ? outcome.reason : new Error('a call that should fail succeeded'));
    for (const options of [{ secret: `${SECRET} ` }, { secret: SECRET.slice(0, 10) }, { secret: `${SECRET}\n` }, { secret: SECRET, peers: [`http://user:${SECRET}@127.0.0.1:9`] }]) {
      try {
        expressMicro(express(), { serviceName: 'x', host: '127.0.0.1', logger: false, ...options });
        errors.push(new Error(`options ${Object.keys(options)} were accepted`));
      } catch (error) {
        errors.push(error);
      }
    }
    expect(errors.map((error) => (error as Error).name)).toEqual([
      'ServiceUnavailableError', 'RouteNotFoundError', 'RemoteError', 'TimeoutError', 'MissingParameterError', 'ServiceUnavailableError',
      'OptionError', 'OptionError', 'OptionError', 'OptionError',
    ]);
    for (const error of errors) {
      record(`error ${(error as Error).name}`, `${String(error)}\n${(error as Error).stack}\n${inspect(error, { depth: 10, showHidden: true })}\n${JSON.stringify(error)}`);
    }
    for (const line of lines) record('log line', line);
    for (const exchange of [...proxy.log, ...captured]) {
      record(`request ${exchange.method} ${exchange.url}`, `${JSON.stringify(exchange.headers)} ${exchange.body}`);
      if (exchange.answer !== undefined) record(`answer to ${exchange.url}`, `${exchange.status} ${exchange.answer}`);
    }
    const services = await send(seed.url, 'GET', '/_discovery/services', sign('GET', '/_discovery/services'));
    expect(services.status).toBe(200);

    const needles = [SECRET, SECRET.slice(0, 22), SECRET.slice(22), Buffer.from(SECRET).toString('base64'), Buffer.from(SECRET).toString('hex'), encodeURIComponent(SECRET)];
    const leaks = seen.filter(({ text }) => needles.some((needle) => text.includes(needle))).map(({ where, text }) => `${where}: ${text.slice(0, 200)}`);
    expect(leaks).toEqual([]);
    // The scan covered real material, not an empty list.
    expect(lines.some((line) => line.startsWith('warn ') && line.includes('mortal-service'))).toBe(true);
    expect(lines.some((line) => line.includes('listener threw'))).toBe(true);
    expect(lines.some((line) => line.includes('401'))).toBe(true);
    console.info(`forged-hmac: scanned ${seen.length} responses, requests, log lines and errors (${lines.length} log lines, ${errors.length} errors, ${proxy.log.length + captured.length} captured requests)`);
  });
});

describe('a restart in place with enableHmac', () => {
  const slow = { enableHmac: true, pingInterval: 30_000 };
  const upIds = (caller: FaultService, url: string) => caller.micro.peers().filter((peer) => peer.url === url && peer.status === 'UP').map((peer) => peer.id);

  it("takes over at once for GET and POST: a call signed for the old process is sent again, once, signed for the id the new one vouches for", async () => {
    // A 30 s interval: no probe reaches the new process during the test, so the caller's table
    // keeps the old id and only the signed 401 can tell it who answers now.
    const caller = await startApp('takeover-caller', { options: slow });
    const first = await spawnService('user-service', { ...slow, peers: [caller.url] }, 0, 'drain-service.mjs');
    await waitFor(() => upIds(caller, first.url).length === 1, 'the caller sees the first process UP');
    const [oldId] = upIds(caller, first.url);
    const users = caller.micro.services.userService;
    expect(await users.createOrder({ item: 1 })).toMatchObject({ port: first.port });
    await first.kill();
    // The same port, a new id, no peers: nothing tells the caller's table about it.
    const second = await spawnService('user-service', slow, first.port, 'drain-service.mjs');
    const answers = [await users.createOrder({ item: 2 }), await users.getUser({ id: 3 }), await users.createOrder({ item: 4 })];
    expect(answers).toEqual([{ order: { item: 2 }, port: second.port }, { id: '3', port: second.port }, { order: { item: 4 }, port: second.port }]);
    expect(upIds(caller, first.url), 'the table still names the old process: the claim did it').toEqual([oldId]);
  }, 30_000);

  it('believes no forged, replayed or looping claim: the 401 is thrown after one request, or after one re-signed request', async () => {
    const forged = (audience: string) => ({ id: 'cccccccccccccccc', timestamp: String(Date.now()), proof: createVerifier('another-secret-0123456789abcdef').vouch('cccccccccccccccc', audience).proof });
    // What a fake service answers every POST with, and how many requests it must see.
    const claims: [string, (audience: string) => unknown, number][] = [
      ['missing', () => undefined, 1],
      ['malformed', () => ({ id: 'x', timestamp: 'soon', proof: 'zz' }), 1],
      ['oversized', (audience) => createVerifier(SECRET).vouch('c'.repeat(100_000), audience), 1],
      ['under another secret', forged, 1],
      ['replayed for another audience', () => createVerifier(SECRET).vouch('cccccccccccccccc', 'bbbbbbbbbbbbbbbb'), 1],
      ['stale', (audience) => createVerifier(SECRET).vouch('cccccccccccccccc', audience, Date.now() - 60_000), 1],
      // A genuine claim to yet another id every time (a bug, or a peer that holds the secret and lies): sent again once, then thrown.
      ['looping', (audience) => createVerifier(SECRET).vouch(`${audience.slice(0, 15)}${audience.endsWith('0') ? '1' : '0'}`, audience), 2],
    ];
    for (const [name, claim, requests] of claims) {
      let received = 0;
      const fake = await startApp('liar-service', {
        options: slow,
        define: (app) =>
          app.post('/orders', (req, res) => {
            received++;
            res.status(401).json({ error: 'unauthorized', reason: 'signed for another instance', instance: claim(String(req.headers['x-micro-audience'])) });
          }),
      });
      const caller = await startApp('liar-caller', { options: { ...slow, peers: [fake.url] } });
      await waitFor(() => caller.micro.peers().some((peer) => peer.service === 'liar-service' && peer.status === 'UP'), 'the caller sees the liar');
      const error = await caller.micro.services.liarService.createOrder({ item: 1 }).catch((thrown: unknown) => thrown);
      expect(error, name).toBeInstanceOf(RemoteError);
      expect((error as RemoteError).status, name).toBe(401);
      expect(received, `${name}: requests seen`).toBe(requests);
      await caller.stop();
      await fake.stop();
    }
  }, 60_000);

  it('sends the re-signed call within what is left of its timeout, not a fresh one', async () => {
    // Each answer takes 150 ms: the first (a 401 with a genuine claim) leaves 100 ms of 250.
    const slowLiar = await startApp('slow-liar-service', {
      options: slow,
      define: (app) =>
        app.post('/orders', (req, res) => {
          const audience = String(req.headers['x-micro-audience']);
          const claim = createVerifier(SECRET).vouch(`${audience.slice(0, 15)}${audience.endsWith('0') ? '1' : '0'}`, audience);
          setTimeout(() => res.status(401).json({ error: 'unauthorized', reason: 'signed for another instance', instance: claim }), 150);
        }),
    });
    const caller = await startApp('slow-liar-caller', { options: { ...slow, peers: [slowLiar.url] } });
    await waitFor(() => caller.micro.peers().some((peer) => peer.service === 'slow-liar-service' && peer.status === 'UP'), 'the caller sees the slow liar');
    const started = performance.now();
    const error = await caller.micro.services.slowLiarService.createOrder({ item: 1 }, { timeout: 250 }).catch((thrown: unknown) => thrown);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(elapsed).toBeLessThan(250 + 250);
  }, 30_000);

  it('vouches only for an authentic request: a forged one signed for another id gets a bare 401', async () => {
    const service = await spawnService('user-service', slow, 0, 'drain-service.mjs');
    const post = async (secret: string) => {
      const body = JSON.stringify({ item: 1 });
      const answer = await fetch(`${service.url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json', ...signRequest(secret, 'POST', '/orders', body, undefined, 'aaaaaaaaaaaaaaaa') }, body });
      return { status: answer.status, body: (await answer.json()) as { reason: string; instance?: { id: string } } };
    };
    const authentic = await post(SECRET);
    expect(authentic.status).toBe(401);
    expect(authentic.body.instance?.id).toMatch(/^[0-9a-f]{16}$/);
    expect(createVerifier(SECRET).claimed(authentic.body.instance, 'aaaaaaaaaaaaaaaa')).toBe(authentic.body.instance?.id);
    const forgedRequest = await post('another-secret-0123456789abcdef');
    expect(forgedRequest).toEqual({ status: 401, body: { error: 'unauthorized', reason: 'signed for another instance' } });
  }, 30_000);
});
