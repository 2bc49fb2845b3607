import express from 'express';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import expressMicro from '../../src/index.ts';
import { signRequest } from '../../src/security/index.ts';
import { discovery, SECRET, startService, stopAll, upInstances, waitFor } from '../helpers.ts';

afterEach(stopAll);

/** Sends headers that promise a body and never sends it; resolves with the status line. */
function headersOnly(port: number, headers: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) {
        socket.destroy();
        resolve(answer.split('\r\n', 1)[0] as string);
      }
    });
    socket.on('error', reject);
    socket.write(`POST /_discovery/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n${headers}\r\n`);
  });
}

const register = (url: string, body: string, init: { bearer?: string | false; headers?: Record<string, string> } = {}) =>
  discovery(url, '/register', { method: 'POST', body, headers: { 'content-type': 'application/json', ...init.headers }, bearer: init.bearer });

describe('discovery endpoint security', () => {
  it('answers 401 to a missing, wrong or malformed bearer on every endpoint', async () => {
    const service = await startService('guarded');
    for (const [method, path] of [['POST', '/register'], ['POST', '/describe'], ['POST', '/ping'], ['GET', '/ping'], ['POST', '/ping-req'], ['POST', '/gossip'], ['GET', '/services'], ['GET', '/metrics'], ['POST', '/leave']] as const) {
      for (const bearer of [false, 'wrong', `${SECRET}x`, SECRET.slice(0, -1), ''] as const) {
        const response = await discovery(service.url, path, { method, bearer, body: method === 'POST' ? '{}' : undefined, headers: { 'content-type': 'application/json' } });
        expect(response.status, `${method} ${path} with ${String(bearer)}`).toBe(401);
        expect(await response.text()).not.toContain(SECRET);
      }
      const malformed = await fetch(`${service.url}/_discovery${path}`, { method, headers: { authorization: `Basic ${SECRET}` } });
      expect(malformed.status).toBe(401);
    }
  });

  it('answers 405 to every other method on each endpoint, before checking credentials', async () => {
    const service = await startService('guarded');
    const allowed = new Map([['/register', ['POST']], ['/describe', ['POST']], ['/ping', ['POST', 'GET']], ['/ping-req', ['POST']], ['/gossip', ['POST']], ['/services', ['GET']], ['/metrics', ['GET']], ['/leave', ['POST']]]);
    for (const [path, methods] of allowed) {
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((method) => !methods.includes(method))) {
        for (const bearer of [undefined, false] as const) {
          const response = await discovery(service.url, path, { method, bearer });
          expect(response.status, `${method} ${path}`).toBe(405);
        }
      }
    }
  });

  it('refuses before reading the body: a request whose body never comes still gets 401 or 403', async () => {
    const open = await startService('guarded');
    expect(await headersOnly(open.port, 'Authorization: Bearer wrong\r\n')).toBe('HTTP/1.1 401 Unauthorized');
    const walled = await startService('walled', () => {}, { ipWhitelist: ['10.0.0.0/8'] });
    expect(await headersOnly(walled.port, `Authorization: Bearer ${SECRET}\r\n`)).toBe('HTTP/1.1 403 Forbidden');
  });

  it('applies ipWhitelist to the socket address: IPv4, CIDR, mapped IPv6; X-Forwarded-For only through a trusted proxy', async () => {
    const allowed = await startService('allowed', () => {}, { ipWhitelist: ['127.0.0.0/30'] });
    expect((await discovery(allowed.url, '/services')).status).toBe(200);
    const mapped = await startService('mapped', () => {}, { ipWhitelist: ['::ffff:127.0.0.1'] });
    expect((await discovery(mapped.url, '/services')).status).toBe(200);
    const elsewhere = await startService('elsewhere', () => {}, { ipWhitelist: ['127.0.0.2', '::1'] });
    expect((await discovery(elsewhere.url, '/services')).status).toBe(403);

    // A spoofed X-Forwarded-For does nothing while the app does not trust proxies...
    const spoofed = await startService('spoofed', () => {}, { ipWhitelist: ['10.1.2.3'] });
    expect((await discovery(spoofed.url, '/services', { headers: { 'x-forwarded-for': '10.1.2.3' } })).status).toBe(403);
    // ...and counts once it trusts the loopback proxy it comes through.
    spoofed.app.set('trust proxy', 'loopback');
    expect((await discovery(spoofed.url, '/services', { headers: { 'x-forwarded-for': '10.1.2.3' } })).status).toBe(200);
    expect((await discovery(spoofed.url, '/services', { headers: { 'x-forwarded-for': '10.9.9.9' } })).status).toBe(403);
  });

  it('refuses malformed, oversized and hostile register bodies with 4xx and leaves the table unchanged', async () => {
    const service = await startService('target');
    const before = JSON.stringify(service.micro.peers());
    const self = (overrides: Record<string, unknown>) =>
      JSON.stringify({ self: { protocol: 2, name: 'evil', id: 'abcdef0123456789', url: 'http://127.0.0.1:9', routes: [], rev: 'r1', incarnation: 0, ...overrides }, members: [] });
    const cases: [string, string, number][] = [
      ['invalid JSON', '{"self":', 400],
      ['array', '[]', 400],
      ['null', 'null', 400],
      ['wrong types', self({ name: 42 }), 400],
      ['__proto__ name', self({ name: '__proto__' }), 400],
      ['constructor route name', self({ routes: [{ method: 'GET', path: '/x', names: ['constructor', 42] }] }), 400],
      ['non-http url', self({ url: 'file:///etc/passwd' }), 400],
      ['javascript url', self({ url: 'javascript:alert(1)' }), 400],
      ['url with path', self({ url: 'http://127.0.0.1:9/x' }), 400],
      ['huge name', self({ name: 'a'.repeat(10_000) }), 400],
      ['thousands of routes', self({ routes: Array.from({ length: 5000 }, (_, index) => ({ method: 'GET', path: `/r${index}`, names: [] })) }), 400],
      ['unknown protocol', self({ protocol: 99 }), 400],
      ['protocol 1', self({ protocol: 1 }), 400],
      ['negative incarnation', self({ incarnation: -1 }), 400],
      ['fractional incarnation', self({ incarnation: 1.5 }), 400],
      ['member with a bad status', JSON.stringify({ self: JSON.parse(self({})).self, members: [{ name: 'm', id: 'abcdef0123456780', url: 'http://127.0.0.1:9', incarnation: 0, status: 'zombie', rev: 'r1' }] }), 400],
      ['oversized', JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }), 413],
    ];
    for (const [label, body, status] of cases) {
      const response = await register(service.url, body);
      expect(response.status, label).toBe(status);
    }
    const wrongType = await discovery(service.url, '/register', { method: 'POST', body: self({}), headers: { 'content-type': 'text/plain' } });
    expect(wrongType.status).toBe(415);
    expect(JSON.stringify(service.micro.peers())).toBe(before);
  });

  it('runs the whole protocol signed with enableHmac, and never sends the secret', async () => {
    const seen: string[] = [];
    const app = express();
    const seedMicro = expressMicro(app, { serviceName: 'user-service', host: '127.0.0.1', secret: SECRET, enableHmac: true, pingInterval: 200, logger: false });
    app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
    const server = app.listen(0, '127.0.0.1');
    // On the server itself, so it sees discovery traffic (which skips the app's middleware) and calls.
    server.prependListener('request', (req) => seen.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`));
    await waitFor(() => seedMicro.url !== undefined, 'seed listening');
    try {
      const client = await startService('order-service', () => {}, { enableHmac: true, peers: [seedMicro.url!] });
      await waitFor(() => upInstances(client.micro, 'user-service').length === 1 && upInstances(seedMicro, 'order-service').length === 1, 'signed join');
      expect(await client.micro.services.userService.getUser({ id: 5 })).toEqual({ id: '5' });
      await waitFor(() => seen.some((line) => line.startsWith('POST /_discovery/ping')), 'a signed ping');
      expect(seen.some((line) => line.startsWith('POST /_discovery/register'))).toBe(true);
      for (const line of seen) {
        expect(line).not.toContain(SECRET);
        expect(line).not.toContain('authorization');
        expect(line).toContain('x-micro-signature');
      }
      // A Bearer secret alone is not enough in HMAC mode.
      expect((await discovery(seedMicro.url!, '/services')).status).toBe(401);
    } finally {
      await seedMicro.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses replayed, stale, forged and tampered signed discovery requests', async () => {
    const service = await startService('signed', () => {}, { enableHmac: true });
    const body = JSON.stringify({ id: 'abcdef0123456789', url: 'http://127.0.0.1:9', target: 'abcdef0123456780', updates: [] });
    const signed = signRequest(SECRET, 'POST', '/_discovery/ping', body);
    const send = (headers: Record<string, string>, payload = body, path = '/ping') =>
      discovery(service.url, path, { method: 'POST', body: payload, bearer: false, headers: { 'content-type': 'application/json', ...headers } });
    expect((await send(signed)).status).toBe(200);
    expect((await send(signed)).status).toBe(401); // replayed
    expect((await send(signRequest(SECRET, 'POST', '/_discovery/ping', body, Date.now() - 60_000))).status).toBe(401); // stale
    expect((await send(signRequest(SECRET, 'POST', '/_discovery/ping', body, Date.now() + 60_000))).status).toBe(401); // from the future
    expect((await send(signRequest('another-secret-of-enough-length!!', 'POST', '/_discovery/ping', body))).status).toBe(401); // forged
    expect((await send(signRequest(SECRET, 'POST', '/_discovery/ping', body), body.replace('abcdef01', 'abcdef02'))).status).toBe(401); // tampered body
    expect((await send(signRequest(SECRET, 'POST', '/_discovery/leave', body))).status).toBe(401); // signed for another path
    const noNonce = signRequest(SECRET, 'POST', '/_discovery/ping', body);
    delete noNonce['x-micro-nonce'];
    expect((await send(noNonce)).status).toBe(401);
    expect((await send({})).status).toBe(401);
  });

  it('refuses a signed call captured on its way to one instance and replayed to its twin', async () => {
    const captured: Record<string, string>[] = [];
    const twin = (app: express.Express, micro: import('../../src/index.ts').ExpressMicro) => {
      app.use((req, _res, next) => {
        captured.push(req.headers as Record<string, string>);
        next();
      });
      app.use('/notes', micro.requireSignature());
      app.use(express.json());
      app.post('/notes', (req, res) => res.json({ got: req.body }));
    };
    const one = await startService('note-service', twin, { enableHmac: true });
    const two = await startService('note-service', twin, { enableHmac: true, peers: [one.url] });
    const client = await startService('client-service', () => {}, { enableHmac: true, peers: [one.url] });
    await waitFor(() => upInstances(client.micro, 'note-service').length === 2, 'both twins seen');
    captured.length = 0;
    expect(await client.micro.services.noteService.createNote({ text: 'once' })).toEqual({ got: { text: 'once' } });
    const call = captured.find((headers) => headers['x-micro-signature'] !== undefined)!;
    const headers = Object.fromEntries(Object.entries(call).filter(([name]) => name.startsWith('x-micro-') || name === 'content-type'));
    const replay = (url: string) => fetch(`${url}/notes`, { method: 'POST', headers, body: '{"text":"once"}' });
    // The instance it was for has seen the nonce; the twin has not, but the call names another instance.
    for (const url of [one.url, two.url]) {
      const answer = await replay(url);
      expect(answer.status).toBe(401);
      expect((await answer.json()).reason).toMatch(/^(replayed nonce|signed for another instance)$/);
    }
    expect(new Set(await Promise.all([one.url, two.url].map(async (url) => (await (await replay(url)).json()).reason)))).toEqual(new Set(['replayed nonce', 'signed for another instance']));
  });

  it('offers requireSignature() to accept only signed cluster calls on the app own routes', async () => {
    const seed = await startService('user-service', (app, micro) => {
      app.use('/private', micro.requireSignature());
      app.use(express.json());
      app.post('/private/notes', (req, res) => res.json({ got: req.body }));
    }, { enableHmac: true });
    const client = await startService('order-service', () => {}, { enableHmac: true, peers: [seed.url] });
    await waitFor(() => upInstances(client.micro, 'user-service').length === 1, 'joined');
    expect(await client.micro.services.userService.$call('POST', '/private/notes', { text: 'hi' })).toEqual({ got: { text: 'hi' } });
    const unsigned = await fetch(`${seed.url}/private/notes`, { method: 'POST', body: '{"text":"hi"}', headers: { 'content-type': 'application/json' } });
    expect(unsigned.status).toBe(401);
    const plain = await startService('plain');
    expect(() => plain.micro.requireSignature()).toThrow(expressMicro.OptionError);
  });
});

describe('misconfiguration', () => {
  it('warns, without the secret, when a seed refuses to register this service', async () => {
    const seed = await startService('seed-service', () => {}, { secret: 'the-seed-has-another-secret-entirely' });
    const warnings: string[] = [];
    const retries: string[] = [];
    const logger = { info() {}, debug: (line: string) => retries.push(line), warn: (line: string) => warnings.push(line), error: (line: string) => warnings.push(line) };
    const joiner = await startService('joiner', () => {}, { peers: [seed.url], logger });
    await joiner.micro.ready;
    expect(warnings.some((line) => line.includes(`register with ${seed.url} failed`) && line.includes('401'))).toBe(true);
    expect(warnings.join('\n')).not.toContain(SECRET);
    // Retried every interval (each retry logged at debug), warned about once.
    await waitFor(() => retries.filter((line) => line.includes('register with')).length >= 3, 'three more join attempts', 2000);
    expect(warnings.filter((line) => line.includes('register with'))).toHaveLength(1);
    expect(upInstances(joiner.micro, 'seed-service')).toEqual([]);
  });
});
