/**
 * `express-micro dashboard` without a browser: what it serves and to whom (the Host check, no
 * CORS, CSP, never the secret), its event stream, its options and failures, and that it stops on
 * its signal. The page in a real browser is test/cli/dashboard.test.ts.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { Script } from 'node:vm';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { SECRET, startService, stopAll, waitFor, type TestService } from '../helpers.ts';
import { startDashboard, type RunningDashboard } from './dashboard-support.ts';
import { tempFolder } from './support.ts';

/** A raw GET with the Host header (and method) we choose, as a rebinding page's request would arrive. */
function raw(port: number, path: string, host: string | undefined, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = host === undefined ? {} : { host };
    const sent = request({ host: '127.0.0.1', port, path, method, headers, setHost: host !== undefined }, (answer) => {
      let body = '';
      answer.setEncoding('utf8');
      answer.on('data', (chunk: string) => {
        body += chunk;
        // An event stream never ends: the first event is enough.
        if (path === '/events' && body.includes('\n\ndata: ') && body.endsWith('\n\n')) answer.destroy();
      });
      answer.on('close', () => resolve({ status: answer.statusCode ?? 0, headers: answer.headers, body }));
    });
    sent.on('error', reject);
    sent.end();
  });
}

/** The status code of a request written by hand (a Host header Node's client would fill in). */
function statusOf(port: number, head: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\nConnection: close\r\n\r\n`));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
  });
}

const folder = tempFolder('dashboard-server');
afterAll(() => folder.remove());

describe('express-micro dashboard, served', () => {
  let users: TestService;
  let dashboard: RunningDashboard;
  const secretFile = join(folder.path, 'secret.key');

  beforeAll(async () => {
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    chmodSync(secretFile, 0o600);
    users = await startService('user-service', (app) => app.get('/users/:id', (req, res) => res.json({ id: req.params.id })));
    const orders = await startService('order-service', () => {}, { peers: [users.url] });
    await waitFor(() => users.micro.peers().some((peer) => peer.service === 'order-service' && peer.status === 'UP'), 'user-service sees order-service');
    // The call below goes the other way: order-service must know user-service too (the join's
    // answer usually brings it, but not always before the line above holds).
    await waitFor(() => orders.micro.peers().some((peer) => peer.service === 'user-service' && peer.status === 'UP'), 'order-service sees user-service');
    await orders.micro.services.userService.getUser({ id: 1 });
    orders.micro.subscribe('order.created', () => {});
    orders.micro.subscribe('cache.flush', () => {}, { group: 'caches' });
    dashboard = await startDashboard(['--peer', users.url, '--port', '0', '--interval', '200', '--secret-file', secretFile]);
  }, 30_000);
  afterAll(async () => {
    await dashboard?.stop();
    await stopAll();
  });

  it('prints the URL it serves, on 127.0.0.1', () => {
    expect(dashboard.output()).toEqual({ out: `dashboard: http://127.0.0.1:${dashboard.port}\n`, err: '' });
    expect(dashboard.port).toBeGreaterThan(0);
  });

  it('serves the page, its script and style, with a CSP that allows only itself and no CORS', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/app.css', 'text/css']] as const) {
      for (const host of [`127.0.0.1:${dashboard.port}`, `localhost:${dashboard.port}`]) {
        const answer = await raw(dashboard.port, path, host);
        expect(answer.status, `${path} for ${host}`).toBe(200);
        expect(answer.headers['content-type']).toContain(type);
        expect(answer.headers['content-security-policy']).toMatch(/^default-src 'self';/);
        expect(answer.headers['access-control-allow-origin']).toBeUndefined();
        expect(answer.headers['x-content-type-options']).toBe('nosniff');
      }
    }
    const page = await raw(dashboard.port, '/', `127.0.0.1:${dashboard.port}`);
    expect(page.body).not.toMatch(/<script>|<style>|https?:\/\/(?!127)/); // nothing inline, nothing from elsewhere
  });

  it.each([
    ['a foreign name (DNS rebinding)', 'attacker.example'],
    ['a foreign name with the right port', 'attacker.example:PORT'],
    ['another port', '127.0.0.1:1'],
    ['no port', '127.0.0.1'],
    ['an IPv6 loopback it does not listen on', '[::1]:PORT'],
    ['the right one with a path', '127.0.0.1:PORT/'],
  ])('refuses a request whose Host is %s, on every path', async (_, host) => {
    for (const path of ['/', '/app.js', '/events', '/snapshot.json', '/nope']) {
      const answer = await raw(dashboard.port, path, host.replace('PORT', String(dashboard.port)));
      expect(answer.status, path).toBe(403);
      expect(answer.body).not.toContain('user-service');
    }
  });

  it('refuses a request without a Host header, and anything but GET and HEAD', async () => {
    // Node's server already answers 400 to an HTTP/1.1 request without Host; HTTP/1.0 gets here.
    expect(await statusOf(dashboard.port, 'GET /snapshot.json HTTP/1.1')).toBe(400);
    expect(await statusOf(dashboard.port, 'GET /snapshot.json HTTP/1.0')).toBe(403);
    expect(await statusOf(dashboard.port, 'GET /snapshot.json HTTP/1.1\r\nHost: ')).toBe(403);
    expect(await statusOf(dashboard.port, `GET /snapshot.json HTTP/1.1\r\nHost: 127.0.0.1:${dashboard.port}\r\nHost: evil.example`)).toBe(403);
    expect(await statusOf(dashboard.port, `GET /snapshot.json HTTP/1.1\r\nHost: 127.0.0.1:${dashboard.port}`)).toBe(200);
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const answer = await raw(dashboard.port, '/events', `127.0.0.1:${dashboard.port}`, method);
      expect(answer.status, method).toBe(405);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    }
    expect((await raw(dashboard.port, '/../../etc/passwd', `127.0.0.1:${dashboard.port}`)).status).toBe(404);
  });

  it('streams one JSON snapshot per event, the whole picture at once on connecting', async () => {
    const answer = await raw(dashboard.port, '/events', `127.0.0.1:${dashboard.port}`);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/event-stream');
    expect(answer.body.startsWith('retry: 1000\n\ndata: {')).toBe(true);
    const snapshot = JSON.parse(answer.body.slice(answer.body.indexOf('data: ') + 6)) as { services: { name: string; instances: { url: string; status: string }[] }[] };
    expect(snapshot.services.map((service) => service.name)).toEqual(['order-service', 'user-service']);
    expect(snapshot.services[1]?.instances).toEqual([expect.objectContaining({ url: users.url, status: 'UP' })]);
  });

  it('gives each instance its subscriptions (none for one that has none), and the page a column for them', async () => {
    type Instance = { url: string; events: { event: string; group: string }[] };
    const read = async (): Promise<{ services: { name: string; instances: Instance[] }[] }> => JSON.parse((await raw(dashboard.port, '/snapshot.json', `127.0.0.1:${dashboard.port}`)).body);
    const instances = async (name: string): Promise<Instance[]> => (await read()).services.find((service) => service.name === name)?.instances ?? [];
    await waitFor(async () => (await instances('order-service'))[0]?.events.length === 2, 'order-service\'s subscriptions on the dashboard', 10_000);
    expect((await instances('order-service'))[0]?.events).toEqual([
      { event: 'cache.flush', group: 'caches' },
      { event: 'order.created', group: 'order-service' },
    ]);
    expect((await instances('user-service'))[0]?.events).toEqual([]);
    const script = (await raw(dashboard.port, '/app.js', `127.0.0.1:${dashboard.port}`)).body;
    expect(script).toContain("element('th', {}, 'events')");
    expect(script).toContain("class: 'events'");
    expect(() => new Script(script)).not.toThrow(); // the page's script is a string in the bin: it must still parse
  });

  it('shows call rates from the callers\' metrics once two polls are compared', async () => {
    type Rates = { callsPerSecond: number; errorRate: number | null; p50: number | null } | null;
    const read = async (): Promise<{ metricsSources: number; services: { name: string; rates: Rates }[] }> => JSON.parse((await raw(dashboard.port, '/snapshot.json', `127.0.0.1:${dashboard.port}`)).body);
    const orders = await startService('caller', () => {}, { peers: [users.url] });
    await waitFor(async () => (await read()).services.some((service) => service.name === 'caller'), 'the dashboard sees the caller');
    // Calls until a poll has seen them (bounded: a few hundred at most).
    let rates: Rates = null;
    await waitFor(async () => {
      for (let index = 0; index < 5; index++) await orders.micro.services.userService.getUser({ id: index });
      const snapshot = await read();
      rates = snapshot.services.find((service) => service.name === 'user-service')?.rates ?? null;
      return rates !== null && rates.callsPerSecond > 0;
    }, 'a call rate for user-service', 15_000);
    expect((await read()).metricsSources).toBeGreaterThanOrEqual(3);
    expect(rates).toMatchObject({ errorRate: 0 });
    expect((rates as unknown as { p50: number }).p50).toBeGreaterThan(0);
  });

  it('never serves the secret', async () => {
    for (const path of ['/', '/app.js', '/app.css', '/events', '/snapshot.json', '/nope']) {
      expect((await raw(dashboard.port, path, `127.0.0.1:${dashboard.port}`)).body).not.toContain(SECRET);
    }
  });
});

describe('express-micro dashboard, its options and failures', () => {
  let users: TestService;
  beforeAll(async () => {
    users = await startService('user-service');
  });
  afterAll(stopAll);

  it.each([
    [['--port', 'http'], '--port "http" must be a whole number from 0 to 65535'],
    [['--port', '70000'], '--port "70000" must be a whole number from 0 to 65535'],
    [['--interval', '5'], '--interval "5": give a whole number of milliseconds, at least 100'],
    [['--peer', 'localhost:3000'], '--peer localhost:3000: only http: and https: URLs are supported'],
    [['--open'], 'unknown option --open'],
    // Relative to the working directory, as in every command.
    [['--secret-file', 'no-such.key'], `--secret-file ${join(process.cwd(), 'no-such.key')}: no such file`],
  ])('%j fails with exit code 2 and one line: %s', async (argv, message) => {
    let err = '';
    const code = await main(['dashboard', ...argv], { cwd: process.cwd(), out: () => {}, error: (text) => (err += text) });
    expect({ code, err }).toEqual({ code: 2, err: `express-micro dashboard: ${message}\n` });
  });

  it('shows its help', async () => {
    let out = '';
    expect(await main(['dashboard', '--help'], { cwd: process.cwd(), out: (text) => (out += text), error: () => {} })).toBe(0);
    expect(out).toMatch(/^Usage: express-micro dashboard \[--peer URL\]\.\.\. \[--port N\] \[--interval MS\]\n/);
  });

  it('ends with one line when the secret is refused, before serving anything', async () => {
    const wrong = join(folder.path, 'wrong.key');
    writeFileSync(wrong, 'not-the-secret-0123456789abcdef0123456789\n', { mode: 0o600 });
    chmodSync(wrong, 0o600);
    let out = '';
    let err = '';
    const code = await main(['dashboard', '--peer', users.url, '--port', '0', '--secret-file', wrong], { cwd: process.cwd(), out: (text) => (out += text), error: (text) => (err += text) });
    expect({ code, out }).toEqual({ code: 2, out: '' });
    expect(err).toMatch(new RegExp(`^express-micro dashboard: ${users.url} refused the secret \\(401[^\\n]*\\n$`));
  });

  it('ends with one line when its port is taken, and stops on its signal, closing the port', async () => {
    const secretFile = join(folder.path, 'secret.key');
    const first = await startDashboard(['--peer', users.url, '--port', '0', '--secret-file', secretFile]);
    let err = '';
    const code = await main(['dashboard', '--peer', users.url, '--port', String(first.port), '--secret-file', secretFile], { cwd: process.cwd(), out: () => {}, error: (text) => (err += text) });
    expect({ code, err }).toEqual({ code: 2, err: `express-micro dashboard: port ${first.port} is in use on 127.0.0.1; choose another with --port (0 = any free port)\n` });
    // An open event stream does not hold the stop.
    const stream = raw(first.port, '/events', `127.0.0.1:${first.port}`);
    await stream;
    expect(await first.stop()).toBe(0);
    await expect(raw(first.port, '/', `127.0.0.1:${first.port}`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('serves a page that says which peers it cannot reach', async () => {
    const secretFile = join(folder.path, 'secret.key');
    const dashboard = await startDashboard(['--peer', 'http://127.0.0.1:1', '--port', '0', '--secret-file', secretFile]);
    try {
      expect(dashboard.output().err).toBe('express-micro dashboard: cannot reach http://127.0.0.1:1: cannot connect (ECONNREFUSED); is a service listening there?\n');
      const snapshot = JSON.parse((await raw(dashboard.port, '/snapshot.json', `127.0.0.1:${dashboard.port}`)).body) as { unreachable: { origin: string }[]; services: unknown[] };
      expect(snapshot.unreachable.map((peer) => peer.origin)).toEqual(['http://127.0.0.1:1']);
      expect(snapshot.services).toEqual([]);
    } finally {
      expect(await dashboard.stop()).toBe(0);
    }
  });
});
