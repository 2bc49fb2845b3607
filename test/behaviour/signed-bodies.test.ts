/**
 * requireSignature() before or after a body parser (express.json, urlencoded, text, raw; Express 4
 * and 5): a signed POST, PUT or PATCH is checked against the bytes that were sent either way, and
 * the bad cases (altered body, replay, oversized, missing or wrong signature) are refused in
 * either order. docs/security.md, "Signed calls and body parsers".
 */
import express from 'express';
import express4 from 'express4';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import expressMicro from '../../src/index.ts';
import type { ExpressMicro } from '../../src/index.ts';
import { signRequest } from '../../src/security/index.ts';
import { SECRET, startService, stopAll, upInstances, waitFor } from '../helpers.ts';

type Handler = (req: { body: unknown; method: string }, res: { json(value: unknown): void }, next: (error?: unknown) => void) => void;
interface AnyApp {
  use(...handlers: unknown[]): unknown;
  post(path: string, ...handlers: unknown[]): unknown;
  put(path: string, ...handlers: unknown[]): unknown;
  patch(path: string, ...handlers: unknown[]): unknown;
  get(path: string, ...handlers: unknown[]): unknown;
  listen(port: number, host: string, callback: () => void): Server;
}
interface Flavour {
  name: string;
  create: () => AnyApp;
  parsers: { json: (options?: object) => unknown; urlencoded: (options?: object) => unknown; text: (options?: object) => unknown; raw: (options?: object) => unknown };
}

const FLAVOURS: Flavour[] = [
  { name: 'Express 5', create: () => express() as unknown as AnyApp, parsers: { json: express.json, urlencoded: express.urlencoded, text: express.text, raw: express.raw } },
  {
    name: 'Express 4',
    create: () => express4() as unknown as AnyApp,
    parsers: { json: express4.json, urlencoded: express4.urlencoded, text: express4.text, raw: express4.raw } as unknown as Flavour['parsers'],
  },
];

type Parser = 'json' | 'urlencoded' | 'text' | 'raw';
/**
 * For each parser: a body of its type with characters past ASCII, another of the same type (the
 * altered one), and what the handler gets: the parser's result after it, and, with
 * requireSignature() first, parsed JSON or else the text.
 */
const BODIES: Record<Parser, { type: string; body: string; altered: string; expected: Record<'parser first' | 'signature first', unknown>; options: object }> = {
  json: { type: 'application/json', body: JSON.stringify({ name: 'Zoë', n: 1 }), altered: JSON.stringify({ name: 'Zoë', n: 2 }), expected: { 'parser first': { name: 'Zoë', n: 1 }, 'signature first': { name: 'Zoë', n: 1 } }, options: {} },
  urlencoded: { type: 'application/x-www-form-urlencoded', body: 'name=Zo%C3%AB&n=1', altered: 'name=Zo%C3%AB&n=2', expected: { 'parser first': { name: 'Zoë', n: '1' }, 'signature first': 'name=Zo%C3%AB&n=1' }, options: { extended: false } },
  text: { type: 'text/plain; charset=utf-8', body: 'Zoë says hi', altered: 'Zoë says ho', expected: { 'parser first': 'Zoë says hi', 'signature first': 'Zoë says hi' }, options: {} },
  raw: { type: 'application/octet-stream', body: 'Zoë\u0000bytes', altered: 'Zoë\u0000bytez', expected: { 'parser first': 'Zoë\u0000bytes', 'signature first': 'Zoë\u0000bytes' }, options: {} },
};

/** The body as the handler saw it, comparable: the raw parser's Buffer as text, urlencoded's null-prototype object as a plain one. */
function comparable(seen: unknown): unknown {
  if (seen instanceof Uint8Array) return new TextDecoder().decode(seen);
  return typeof seen === 'object' && seen !== null ? { ...seen } : seen;
}

/** The largest body requireSignature() takes by default: 1 MiB. */
const LIMIT = 1024 * 1024;

interface Signed {
  url: string;
  audience: string;
  seen: unknown[];
  stop(): Promise<void>;
}

const running: Signed[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((service) => service.stop()));
  await stopAll();
});

/** An app with expressMicro (HMAC), the parser and requireSignature() in the order asked, and POST, PUT, PATCH /items. */
async function start(flavour: Flavour, parser: Parser, order: 'parser first' | 'signature first'): Promise<Signed> {
  const app = flavour.create();
  const micro = expressMicro(app as never, { serviceName: 'item-service', host: '127.0.0.1', secret: SECRET, enableHmac: true, logger: false });
  // A parser limit above requireSignature's, so its own 413 is what answers an oversized body.
  const parse = flavour.parsers[parser]({ ...BODIES[parser].options, limit: 4 * LIMIT });
  if (order === 'parser first') app.use(parse, micro.requireSignature());
  else app.use(micro.requireSignature(), parse);
  const seen: unknown[] = [];
  const handler: Handler = (req, res) => {
    seen.push(comparable(req.body));
    res.json({ method: req.method });
  };
  for (const method of ['post', 'put', 'patch'] as const) app[method]('/items', handler);
  app.get('/items', (_req: unknown, res: { json(value: unknown): void }) => res.json({ method: 'GET' }));
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await waitFor(() => micro.url !== undefined, 'micro started');
  const audience = micro.peers().find((peer) => peer.self)?.id ?? '';
  const service: Signed = {
    url,
    audience,
    seen,
    async stop() {
      await micro.close();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  running.push(service);
  return service;
}

function signed(service: Signed, method: string, type: string, body: string, secret = SECRET): RequestInit & { headers: Record<string, string> } {
  return { method, headers: { 'content-type': type, ...signRequest(secret, method, '/items', body, Date.now(), service.audience) }, body };
}

for (const flavour of FLAVOURS) {
  for (const parser of ['json', 'urlencoded', 'text', 'raw'] as const) {
    for (const order of ['parser first', 'signature first'] as const) {
      describe(`requireSignature with ${flavour.name} ${parser}(), ${order}`, () => {
        const { type, body, altered: alteredBody } = BODIES[parser];
        const expected = BODIES[parser].expected[order];

        it('lets signed POST, PUT and PATCH through, with the body parsed, and a signed GET', async () => {
          const service = await start(flavour, parser, order);
          for (const method of ['POST', 'PUT', 'PATCH']) {
            const response = await fetch(`${service.url}/items`, signed(service, method, type, body));
            expect(response.status, `${method}: ${await response.clone().text()}`).toBe(200);
            expect(await response.json()).toEqual({ method });
          }
          expect(service.seen).toEqual([expected, expected, expected]);
          // A GET has no body: nothing for the parser, and the empty body's hash checks.
          const get = await fetch(`${service.url}/items`, { headers: signRequest(SECRET, 'GET', '/items', undefined, Date.now(), service.audience) });
          expect(get.status).toBe(200);
        });

        it('refuses an altered body, a replay, a missing or wrong signature with 401, and an oversized body with 413', async () => {
          const service = await start(flavour, parser, order);
          const reason = async (response: Response) => ({ status: response.status, ...((await response.json()) as { reason?: string; error?: string }) });

          const altered = signed(service, 'POST', type, body);
          expect(await reason(await fetch(`${service.url}/items`, { ...altered, body: alteredBody }))).toMatchObject({ status: 401, reason: 'body does not match its signed hash' });

          const once = signed(service, 'POST', type, body);
          expect((await fetch(`${service.url}/items`, once)).status).toBe(200);
          expect(await reason(await fetch(`${service.url}/items`, once))).toMatchObject({ status: 401, reason: 'replayed nonce' });

          expect(await reason(await fetch(`${service.url}/items`, { method: 'POST', headers: { 'content-type': type }, body }))).toMatchObject({ status: 401, reason: expect.stringMatching(/^missing/) });
          expect(await reason(await fetch(`${service.url}/items`, signed(service, 'POST', type, body, 'another-secret-of-enough-length!!')))).toMatchObject({ status: 401, reason: 'wrong signature' });

          const big = parser === 'json' ? JSON.stringify({ blob: 'x'.repeat(LIMIT) }) : parser === 'urlencoded' ? `blob=${'x'.repeat(LIMIT)}` : 'x'.repeat(LIMIT + 1);
          expect(await reason(await fetch(`${service.url}/items`, signed(service, 'POST', type, big)))).toMatchObject({ status: 413, error: 'payload too large' });
          expect(service.seen).toEqual([expected]);
        });
      });
    }
  }
}

/** The signature headers for exact bytes (the protocol: docs/ARCHITECTURE.md, "Protocol reference"). */
function signBytes(method: string, audience: string, path: string, bytes: Uint8Array): Record<string, string> {
  const timestamp = String(Date.now());
  const nonce = randomBytes(16).toString('hex');
  const bodyHash = createHash('sha256').update(bytes).digest('hex');
  const signature = createHmac('sha256', SECRET).update(`${method}\n${audience}\n${path}\n${timestamp}\n${nonce}\n${bodyHash}`).digest('hex');
  return { 'x-micro-timestamp': timestamp, 'x-micro-nonce': nonce, 'x-micro-content-sha256': bodyHash, 'x-micro-signature': signature, 'x-micro-audience': audience };
}

describe('requireSignature after express.raw() checks the bytes themselves', () => {
  it('accepts bytes that are not UTF-8 when they are the ones signed, and refuses one flipped bit', async () => {
    const service = await start(FLAVOURS[0] as Flavour, 'raw', 'parser first');
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80]);
    const headers = { 'content-type': 'application/octet-stream', ...signBytes('POST', service.audience, '/items', bytes) };
    const ok = await fetch(`${service.url}/items`, { method: 'POST', headers, body: bytes });
    expect(ok.status).toBe(200);
    expect(service.seen).toHaveLength(1);
    const flipped = bytes.slice();
    flipped[0] = 0xfe;
    const refused = await fetch(`${service.url}/items`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...signBytes('POST', service.audience, '/items', bytes) }, body: flipped });
    expect(refused.status).toBe(401);
  });
});

describe('requireSignature after a parser inside a router and a sub-app mounted on the plugin\'s app', () => {
  it('checks the body the parser read, under the full path', async () => {
    const client = await startService('client-service', () => {}, { enableHmac: true });
    const service = await startService('mounted-service', (app, micro) => {
      const router = express.Router();
      router.use(express.json(), micro.requireSignature());
      router.post('/items', (req, res) => res.json({ router: req.body as unknown }));
      app.use('/api', router);
      const sub = express();
      sub.use(express.text(), micro.requireSignature());
      sub.post('/notes', (req, res) => res.json({ sub: req.body as unknown }));
      app.use('/sub', sub);
    }, { enableHmac: true, peers: [client.url] });
    const audience = service.micro.peers().find((peer) => peer.self)?.id ?? '';
    const post = (path: string, type: string, body: string, signedBody = body) =>
      fetch(`${service.url}${path}`, { method: 'POST', headers: { 'content-type': type, ...signRequest(SECRET, 'POST', path, signedBody, Date.now(), audience) }, body });
    const routed = await post('/api/items', 'application/json', '{"a":"é"}');
    expect(routed.status).toBe(200);
    expect(await routed.json()).toEqual({ router: { a: 'é' } });
    const mounted = await post('/sub/notes', 'text/plain', 'hé');
    expect(mounted.status).toBe(200);
    expect(await mounted.json()).toEqual({ sub: 'hé' });
    expect((await post('/api/items', 'application/json', '{"a":"e"}', '{"a":"é"}')).status).toBe(401);
    expect((await post('/sub/notes', 'text/plain', 'he', 'hé')).status).toBe(401);
  });
});

describe('docs/security.md, "Signed calls and body parsers"', () => {
  it('runs its example (express.json() first): a cluster call is accepted and the body parsed (200 calls, 16 at once), an unsigned one refused', async () => {
    const text = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
    const section = text.slice(text.indexOf('## Signed calls and body parsers'));
    const block = /```js\n([\s\S]+?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    // The block as written, with the test's own loopback host and secret.
    const withTestOptions = (app: never, options: object) => expressMicro(app, { ...options, host: '127.0.0.1', secret: SECRET, logger: false });
    const run = new Function('express', 'expressMicro', `${block as string}\nreturn { app, micro };`) as (e: typeof express, m: typeof withTestOptions) => { app: express.Express; micro: ExpressMicro };
    const { app, micro } = run(express, withTestOptions);
    const server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await waitFor(() => micro.url !== undefined, 'micro started');
      const client = await startService('client-service', () => {}, { enableHmac: true, peers: [url] });
      await waitFor(() => upInstances(client.micro, 'note-service').length === 1, 'note-service seen');
      expect(await client.micro.services.noteService.createNote({ text: 'hé' })).toEqual({ got: { text: 'hé' } });
      const unsigned = await fetch(`${url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"hé"}' });
      expect(unsigned.status).toBe(401);
      // Many at once over kept-alive connections: each request's digest is its own.
      const texts = Array.from({ length: 200 }, (_, index) => `note ${index} ${'é'.repeat(index)}`);
      for (let start = 0; start < texts.length; start += 16) {
        const batch = texts.slice(start, start + 16);
        expect(await Promise.all(batch.map((text) => client.micro.services.noteService.createNote({ text })))).toEqual(batch.map((text) => ({ got: { text } })));
      }
    } finally {
      await micro.close();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
