import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import express4 from 'express4';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors/index.ts';
import { SecretFileError, sha256Hex } from '../../src/runtime/index.ts';
import {
  bearerHeader,
  bodyMatches,
  checkBearer,
  clientAddress,
  compileAllowList,
  createVerifier,
  requireSignature,
  resolveSecret,
  SIGNATURE_HEADERS,
  signRequest,
} from '../../src/security/index.ts';
import type { IncomingRequest, Middleware } from '../../src/express.ts';

const SECRET = 'a-cluster-secret-of-some-length-0123456789';
const NOW = 1_750_000_000_000;

describe('bearer', () => {
  it('accepts the right token', () => {
    expect(checkBearer(SECRET, bearerHeader(SECRET))).toBe(true);
    expect(bearerHeader(SECRET)).toBe(`Bearer ${SECRET}`);
  });
  it('accepts the scheme in any case', () => {
    expect(checkBearer(SECRET, `bearer ${SECRET}`)).toBe(true);
    expect(checkBearer(SECRET, `BEARER ${SECRET}`)).toBe(true);
  });
  it('refuses a wrong token of the same length', () => {
    const wrong = `${SECRET.slice(0, -1)}X`;
    expect(wrong.length).toBe(SECRET.length);
    expect(checkBearer(SECRET, `Bearer ${wrong}`)).toBe(false);
  });
  it('refuses tokens of other lengths (prefix, extension, empty)', () => {
    expect(checkBearer(SECRET, `Bearer ${SECRET.slice(0, -1)}`)).toBe(false);
    expect(checkBearer(SECRET, `Bearer ${SECRET}x`)).toBe(false);
    expect(checkBearer(SECRET, 'Bearer ')).toBe(false);
    expect(checkBearer(SECRET, 'Bearer')).toBe(false);
  });
  it('refuses a missing or empty header', () => {
    expect(checkBearer(SECRET, undefined)).toBe(false);
    expect(checkBearer(SECRET, '')).toBe(false);
  });
  it('refuses malformed headers: extra spaces, other schemes, bare token', () => {
    expect(checkBearer(SECRET, `Bearer  ${SECRET}`)).toBe(false);
    expect(checkBearer(SECRET, ` Bearer ${SECRET}`)).toBe(false);
    expect(checkBearer(SECRET, `Bearer ${SECRET} `)).toBe(false);
    expect(checkBearer(SECRET, `Bearer\t${SECRET}`)).toBe(false);
    expect(checkBearer(SECRET, `Basic ${SECRET}`)).toBe(false);
    expect(checkBearer(SECRET, SECRET)).toBe(false);
  });
  it('does not throw on a non-string header (array from a repeated header)', () => {
    expect(checkBearer(SECRET, [`Bearer ${SECRET}`] as unknown as string)).toBe(false);
  });
});

describe('HMAC signing', () => {
  const signed = (overrides: Record<string, string | string[] | undefined> = {}, method = 'POST', path = '/api/x?y=1', body: string | undefined = '{"a":1}') => ({
    ...signRequest(SECRET, method, path, body, NOW),
    ...overrides,
  });

  it('produces the four headers in the documented formats', () => {
    const headers = signRequest(SECRET, 'post', '/p', undefined, NOW);
    expect(Object.keys(headers).sort()).toEqual(
      ['x-micro-content-sha256', 'x-micro-nonce', 'x-micro-signature', 'x-micro-timestamp'],
    );
    expect(headers[SIGNATURE_HEADERS.timestamp]).toBe(String(NOW));
    expect(headers[SIGNATURE_HEADERS.nonce]).toMatch(/^[0-9a-f]{32}$/);
    expect(headers[SIGNATURE_HEADERS.bodyHash]).toBe(sha256Hex(''));
    expect(headers[SIGNATURE_HEADERS.signature]).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(headers)).not.toContain(SECRET);
    // Every request gets a fresh nonce.
    expect(signRequest(SECRET, 'POST', '/p', undefined, NOW)[SIGNATURE_HEADERS.nonce]).not.toBe(headers[SIGNATURE_HEADERS.nonce]);
  });

  it('sign → verify passes and returns the body hash', () => {
    const result = createVerifier(SECRET).verify('POST', '/api/x?y=1', signed(), NOW);
    expect(result).toEqual({ ok: true, bodyHash: sha256Hex('{"a":1}'), secret: 0 });
  });

  it('passes at the very edges of the window and a lower-case method', () => {
    const verifier = createVerifier(SECRET, { windowMs: 1000 });
    expect(verifier.verify('POST', '/p', signRequest(SECRET, 'POST', '/p', '', NOW - 1000), NOW).ok).toBe(true);
    expect(verifier.verify('POST', '/p', signRequest(SECRET, 'POST', '/p', '', NOW + 1000), NOW).ok).toBe(true);
    expect(verifier.verify('get', '/p', signRequest(SECRET, 'GET', '/p', '', NOW), NOW).ok).toBe(true);
  });

  it('binds a signature to the instance it is for (the audience)', () => {
    const forTwin = signRequest(SECRET, 'POST', '/p', '{}', NOW, 'aaaaaaaaaaaaaaaa');
    expect(forTwin['x-micro-audience']).toBe('aaaaaaaaaaaaaaaa');
    expect(createVerifier(SECRET).verify('POST', '/p', forTwin, NOW, ['aaaaaaaaaaaaaaaa']).ok).toBe(true);
    // Sent to another instance, or to one that accepts only unaddressed requests: refused.
    // It is authentic, so the refusal names the audience it was signed for (see the claims below).
    expect(createVerifier(SECRET).verify('POST', '/p', forTwin, NOW, ['bbbbbbbbbbbbbbbb'])).toEqual({ ok: false, reason: 'signed for another instance', signedFor: 'aaaaaaaaaaaaaaaa' });
    expect(createVerifier(SECRET).verify('POST', '/p', forTwin, NOW)).toEqual({ ok: false, reason: 'signed for another instance', signedFor: 'aaaaaaaaaaaaaaaa' });
    // Not authentic (another secret, or stale): refused the same, naming nothing.
    expect(createVerifier(SECRET).verify('POST', '/p', signRequest('another-secret-0123456789abcdef', 'POST', '/p', '{}', NOW, 'aaaaaaaaaaaaaaaa'), NOW, ['bbbbbbbbbbbbbbbb'])).toEqual({ ok: false, reason: 'signed for another instance' });
    expect(createVerifier(SECRET).verify('POST', '/p', forTwin, NOW + 60_000, ['bbbbbbbbbbbbbbbb'])).toEqual({ ok: false, reason: 'signed for another instance' });
    expect(createVerifier(SECRET).verify('POST', '/p', { ...forTwin, 'x-micro-audience': 'a'.repeat(65) }, NOW, ['bbbbbbbbbbbbbbbb'])).toEqual({ ok: false, reason: 'signed for another instance' });
    // Re-addressing a captured request breaks its signature; dropping the audience is refused too.
    expect(createVerifier(SECRET).verify('POST', '/p', { ...forTwin, 'x-micro-audience': 'bbbbbbbbbbbbbbbb' }, NOW, ['bbbbbbbbbbbbbbbb'])).toEqual({ ok: false, reason: 'wrong signature' });
    expect(createVerifier(SECRET).verify('POST', '/p', { ...forTwin, 'x-micro-audience': undefined }, NOW, ['bbbbbbbbbbbbbbbb'])).toEqual({ ok: false, reason: 'signed for another instance' });
    expect(createVerifier(SECRET).verify('POST', '/p', { ...forTwin, 'x-micro-audience': undefined }, NOW, ['', 'bbbbbbbbbbbbbbbb'])).toEqual({ ok: false, reason: 'wrong signature' });
    // Unaddressed (discovery) requests carry no audience header.
    expect(signRequest(SECRET, 'POST', '/p', '{}', NOW)['x-micro-audience']).toBeUndefined();
  });

  it("checks an instance's claim to be a new id: secret, audience, window, shape", () => {
    const OLD = 'aaaaaaaaaaaaaaaa';
    const NEW = 'cccccccccccccccc';
    const claim = createVerifier(SECRET).vouch(NEW, OLD, NOW);
    const caller = createVerifier(SECRET);
    expect(caller.claimed(claim, OLD, NOW)).toBe(NEW);
    expect(caller.claimed(claim, OLD, NOW + 29_000)).toBe(NEW);
    // During a rotation the caller takes a claim made under either secret.
    expect(createVerifier(['new-secret-0123456789abcdefghij', SECRET]).claimed(claim, OLD, NOW)).toBe(NEW);
    // Missing, malformed, oversized, stale, from the future.
    expect(caller.claimed(undefined, OLD, NOW)).toBeUndefined();
    expect(caller.claimed('cccccccccccccccc', OLD, NOW)).toBeUndefined();
    expect(caller.claimed({ ...claim, proof: 'zz' }, OLD, NOW)).toBeUndefined();
    expect(caller.claimed({ ...claim, timestamp: '12.5' }, OLD, NOW)).toBeUndefined();
    expect(caller.claimed({ ...claim, id: 'c'.repeat(65) }, OLD, NOW)).toBeUndefined();
    expect(caller.claimed({ ...claim, id: 'c'.repeat(5000) }, OLD, NOW)).toBeUndefined();
    expect(caller.claimed(claim, OLD, NOW + 31_000)).toBeUndefined();
    expect(caller.claimed(claim, OLD, NOW - 31_000)).toBeUndefined();
    // Wrong: made under another secret; its id or timestamp changed; shown for another audience (replayed).
    expect(caller.claimed(createVerifier('another-secret-0123456789abcdef').vouch(NEW, OLD, NOW), OLD, NOW)).toBeUndefined();
    expect(caller.claimed({ ...claim, id: 'dddddddddddddddd' }, OLD, NOW)).toBeUndefined();
    expect(caller.claimed({ ...claim, timestamp: String(NOW + 1) }, OLD, NOW)).toBeUndefined();
    expect(caller.claimed(claim, 'bbbbbbbbbbbbbbbb', NOW)).toBeUndefined();
    // A claim to be the id already signed for changes nothing (no loop).
    expect(caller.claimed(createVerifier(SECRET).vouch(OLD, OLD, NOW), OLD, NOW)).toBeUndefined();
    // A claim is never a request signature: its text cannot be a request's.
    expect(caller.verify('POST', '/p', { 'x-micro-timestamp': claim.timestamp, 'x-micro-nonce': 'ab'.repeat(16), 'x-micro-content-sha256': 'a'.repeat(64), 'x-micro-signature': claim.proof, 'x-micro-audience': NEW }, NOW, [NEW]).ok).toBe(false);
  });

  for (const header of Object.values(SIGNATURE_HEADERS).filter((name) => name !== SIGNATURE_HEADERS.audience)) {
    it(`refuses a missing ${header}`, () => {
      const result = createVerifier(SECRET).verify('POST', '/api/x?y=1', signed({ [header]: undefined }), NOW);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/^missing/);
    });
    it(`refuses a repeated ${header}`, () => {
      const good = signed();
      const value = good[header] as string;
      const result = createVerifier(SECRET).verify('POST', '/api/x?y=1', { ...good, [header]: [value, value] }, NOW);
      expect(result.ok).toBe(false);
    });
  }

  const hex = (n: number): string => 'ab'.repeat(n).slice(0, n);
  const malformed: Array<[string, string, RegExp]> = [
    [SIGNATURE_HEADERS.timestamp, 'abc', /malformed timestamp/],
    [SIGNATURE_HEADERS.timestamp, '', /malformed timestamp/],
    [SIGNATURE_HEADERS.timestamp, '-1', /malformed timestamp/],
    [SIGNATURE_HEADERS.timestamp, `${NOW}.5`, /malformed timestamp/],
    [SIGNATURE_HEADERS.timestamp, ' 1750000000000', /malformed timestamp/],
    [SIGNATURE_HEADERS.timestamp, '1e12', /malformed timestamp/],
    [SIGNATURE_HEADERS.timestamp, '1'.repeat(17), /malformed timestamp/],
    [SIGNATURE_HEADERS.nonce, hex(15), /malformed nonce/],
    [SIGNATURE_HEADERS.nonce, hex(129), /malformed nonce/],
    [SIGNATURE_HEADERS.nonce, `${hex(31)}g`, /malformed nonce/],
    [SIGNATURE_HEADERS.nonce, '', /malformed nonce/],
    [SIGNATURE_HEADERS.bodyHash, hex(63), /malformed body hash/],
    [SIGNATURE_HEADERS.bodyHash, hex(65), /malformed body hash/],
    [SIGNATURE_HEADERS.bodyHash, `${hex(63)}z`, /malformed body hash/],
    [SIGNATURE_HEADERS.signature, hex(63), /malformed signature/],
    [SIGNATURE_HEADERS.signature, hex(65), /malformed signature/],
    [SIGNATURE_HEADERS.signature, `${hex(63)}-`, /malformed signature/],
    [SIGNATURE_HEADERS.signature, '', /malformed signature/],
  ];
  for (const [header, value, reason] of malformed) {
    it(`refuses ${header}: ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}… (${value.length})` : value)}`, () => {
      const result = createVerifier(SECRET).verify('POST', '/api/x?y=1', signed({ [header]: value }), NOW);
      expect(result).toEqual({ ok: false, reason: expect.stringMatching(reason) });
    });
  }

  it('accepts nonces of 16 and 128 hex characters (signed by a custom sender)', () => {
    // The format allows other senders' nonces; a signature over them must still check out,
    // so a bad one is refused for the signature, not the format.
    for (const nonce of [hex(16), hex(128)]) {
      const result = createVerifier(SECRET).verify('POST', '/api/x?y=1', signed({ [SIGNATURE_HEADERS.nonce]: nonce }), NOW);
      expect(result).toEqual({ ok: false, reason: 'wrong signature' });
    }
  });

  it('refuses a wrong signature, and one made with another secret', () => {
    const good = signed();
    const flipped = String(good[SIGNATURE_HEADERS.signature]).replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
    const verifier = createVerifier(SECRET);
    expect(verifier.verify('POST', '/api/x?y=1', { ...good, [SIGNATURE_HEADERS.signature]: flipped }, NOW)).toEqual({
      ok: false,
      reason: 'wrong signature',
    });
    const foreign = signRequest('another-secret-0123456789abcdef', 'POST', '/api/x?y=1', '{"a":1}', NOW);
    expect(verifier.verify('POST', '/api/x?y=1', foreign, NOW)).toEqual({ ok: false, reason: 'wrong signature' });
  });

  it('refuses a signature made for another path, query, method, body, timestamp or nonce', () => {
    const verifier = createVerifier(SECRET);
    const good = signed();
    expect(verifier.verify('POST', '/api/other?y=1', good, NOW)).toMatchObject({ ok: false, reason: 'wrong signature' });
    expect(verifier.verify('POST', '/api/x?y=2', good, NOW)).toMatchObject({ ok: false, reason: 'wrong signature' });
    expect(verifier.verify('POST', '/api/x', good, NOW)).toMatchObject({ ok: false, reason: 'wrong signature' });
    expect(verifier.verify('PUT', '/api/x?y=1', good, NOW)).toMatchObject({ ok: false, reason: 'wrong signature' });
    expect(
      verifier.verify('POST', '/api/x?y=1', { ...good, [SIGNATURE_HEADERS.bodyHash]: sha256Hex('{"a":2}') }, NOW),
    ).toMatchObject({ ok: false, reason: 'wrong signature' });
    expect(
      verifier.verify('POST', '/api/x?y=1', { ...good, [SIGNATURE_HEADERS.timestamp]: String(NOW + 1) }, NOW),
    ).toMatchObject({ ok: false, reason: 'wrong signature' });
    expect(
      verifier.verify('POST', '/api/x?y=1', { ...good, [SIGNATURE_HEADERS.nonce]: hex(32) }, NOW),
    ).toMatchObject({ ok: false, reason: 'wrong signature' });
    // None of the forgeries used up the nonce: the genuine request still passes.
    expect(verifier.verify('POST', '/api/x?y=1', good, NOW).ok).toBe(true);
  });

  it('refuses stale and future timestamps', () => {
    const verifier = createVerifier(SECRET, { windowMs: 30_000 });
    expect(verifier.verify('GET', '/p', signRequest(SECRET, 'GET', '/p', undefined, NOW - 30_001), NOW)).toEqual({
      ok: false,
      reason: 'stale timestamp',
    });
    expect(verifier.verify('GET', '/p', signRequest(SECRET, 'GET', '/p', undefined, NOW + 30_001), NOW)).toEqual({
      ok: false,
      reason: 'timestamp in the future',
    });
    expect(verifier.verify('GET', '/p', signRequest(SECRET, 'GET', '/p', undefined, 0), NOW)).toMatchObject({ ok: false });
    expect(verifier.size).toBe(0);
  });

  it('uses a 30 s window by default', () => {
    const verifier = createVerifier(SECRET);
    expect(verifier.verify('GET', '/p', signRequest(SECRET, 'GET', '/p', undefined, NOW - 30_000), NOW).ok).toBe(true);
    expect(verifier.verify('GET', '/p', signRequest(SECRET, 'GET', '/p', undefined, NOW - 30_001), NOW).ok).toBe(false);
  });

  it('refuses a replayed nonce, for as long as the timestamp is in the window', () => {
    const verifier = createVerifier(SECRET, { windowMs: 1000 });
    const headers = signed();
    expect(verifier.verify('POST', '/api/x?y=1', headers, NOW).ok).toBe(true);
    expect(verifier.verify('POST', '/api/x?y=1', headers, NOW)).toEqual({ ok: false, reason: 'replayed nonce' });
    expect(verifier.verify('POST', '/api/x?y=1', headers, NOW + 1000)).toEqual({ ok: false, reason: 'replayed nonce' });
    // Once the timestamp has left the window the request is refused as stale instead.
    expect(verifier.verify('POST', '/api/x?y=1', headers, NOW + 1001)).toEqual({ ok: false, reason: 'stale timestamp' });
  });

  it('refuses once the nonce cache is full, and takes requests again once nonces expire', () => {
    const verifier = createVerifier(SECRET, { windowMs: 1000, maxNonces: 3 });
    for (let i = 0; i < 3; i += 1) {
      expect(verifier.verify('GET', '/p', signRequest(SECRET, 'GET', '/p', undefined, NOW), NOW).ok).toBe(true);
    }
    expect(verifier.size).toBe(3);
    expect(verifier.verify('GET', '/p', signRequest(SECRET, 'GET', '/p', undefined, NOW), NOW)).toEqual({
      ok: false,
      reason: 'replay cache full',
    });
    expect(verifier.verify('GET', '/p', signRequest(SECRET, 'GET', '/p', undefined, NOW + 1000), NOW + 1000)).toEqual({
      ok: false,
      reason: 'replay cache full',
    });
    // Past the window of the remembered nonces, they are pruned and new requests pass.
    const later = NOW + 1001;
    expect(verifier.verify('GET', '/p', signRequest(SECRET, 'GET', '/p', undefined, later), later).ok).toBe(true);
    expect(verifier.size).toBe(1);
  });

  it('keeps forged requests out of the nonce cache', () => {
    const verifier = createVerifier(SECRET, { maxNonces: 2 });
    for (let i = 0; i < 100; i += 1) {
      const forged = signRequest('attacker-secret-0123456789abcdef', 'POST', '/p', 'x', NOW);
      expect(verifier.verify('POST', '/p', forged, NOW)).toEqual({ ok: false, reason: 'wrong signature' });
    }
    expect(verifier.size).toBe(0);
    // A forged request that reuses a genuine nonce does not burn it either.
    const genuine = signRequest(SECRET, 'POST', '/p', 'x', NOW);
    const sameNonce = { ...genuine, [SIGNATURE_HEADERS.signature]: 'f'.repeat(64) };
    expect(verifier.verify('POST', '/p', sameNonce, NOW)).toEqual({ ok: false, reason: 'wrong signature' });
    expect(verifier.verify('POST', '/p', genuine, NOW).ok).toBe(true);
    expect(verifier.size).toBe(1);
  });

  it('refuses bad options', () => {
    expect(() => createVerifier(SECRET, { windowMs: -1 })).toThrow(RangeError);
    expect(() => createVerifier(SECRET, { maxNonces: 0 })).toThrow(RangeError);
    expect(() => createVerifier(SECRET, { windowMs: Number.NaN })).toThrow(RangeError);
  });

  it('never puts the secret in a reason', () => {
    const verifier = createVerifier(SECRET);
    const reasons = [
      verifier.verify('POST', '/p', {}, NOW),
      verifier.verify('POST', '/p', signed(), NOW),
      verifier.verify('POST', '/p', signRequest(SECRET, 'POST', '/p', '', 0), NOW),
    ];
    for (const result of reasons) expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  it('bodyMatches compares the body with the signed hash', () => {
    expect(bodyMatches(sha256Hex('{"a":1}'), '{"a":1}')).toBe(true);
    expect(bodyMatches(sha256Hex('{"a":1}').toUpperCase(), '{"a":1}')).toBe(true);
    expect(bodyMatches(sha256Hex('{"a":1}'), '{"a":2}')).toBe(false);
    expect(bodyMatches(sha256Hex(''), '')).toBe(true);
    expect(bodyMatches(sha256Hex(''), ' ')).toBe(false);
    expect(bodyMatches('', '')).toBe(false);
    expect(bodyMatches(sha256Hex('é'), 'é')).toBe(true);
  });
});

describe('allow-list', () => {
  it('is undefined (everyone allowed) for no list or an empty list', () => {
    expect(compileAllowList(undefined)).toBeUndefined();
    expect(compileAllowList([])).toBeUndefined();
  });

  it('matches an exact IPv4 address only', () => {
    const allow = compileAllowList(['10.1.2.3'])!;
    expect(allow('10.1.2.3')).toBe(true);
    expect(allow('10.1.2.4')).toBe(false);
    expect(allow('10.1.2.30')).toBe(false);
  });

  it('matches the edges of a /24', () => {
    const allow = compileAllowList(['192.168.5.0/24'])!;
    expect(allow('192.168.5.0')).toBe(true);
    expect(allow('192.168.5.255')).toBe(true);
    expect(allow('192.168.4.255')).toBe(false);
    expect(allow('192.168.6.0')).toBe(false);
  });

  it('matches the edges of a /31', () => {
    const allow = compileAllowList(['10.0.0.6/31'])!;
    expect(allow('10.0.0.6')).toBe(true);
    expect(allow('10.0.0.7')).toBe(true);
    expect(allow('10.0.0.5')).toBe(false);
    expect(allow('10.0.0.8')).toBe(false);
  });

  it('matches IPv6 ::1 and IPv6 CIDR ranges', () => {
    const allow = compileAllowList(['::1', 'fd00:1234::/32'])!;
    expect(allow('::1')).toBe(true);
    expect(allow('0:0:0:0:0:0:0:1')).toBe(true);
    expect(allow('::2')).toBe(false);
    expect(allow('fd00:1234::')).toBe(true);
    expect(allow('fd00:1234:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(allow('fd00:1233:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(false);
    expect(allow('fd00:1235::')).toBe(false);
    expect(allow('127.0.0.1')).toBe(false);
  });

  it('treats an IPv4-mapped IPv6 address as its IPv4 form', () => {
    const allow = compileAllowList(['127.0.0.1', '10.0.0.0/8'])!;
    expect(allow('::ffff:127.0.0.1')).toBe(true);
    expect(allow('::ffff:10.200.0.1')).toBe(true);
    expect(allow('::ffff:11.0.0.1')).toBe(false);
    expect(allow('::ffff:127.0.0.2')).toBe(false);
  });

  it('refuses unknown, empty and garbage addresses', () => {
    const allow = compileAllowList(['127.0.0.1'])!;
    expect(allow(undefined)).toBe(false);
    expect(allow('')).toBe(false);
    expect(allow('localhost')).toBe(false);
    expect(allow('127.0.0.1, 10.0.0.1')).toBe(false);
  });

  for (const entry of ['not-an-ip', '', ' 10.0.0.1', '10.0.0.0/33', '256.0.0.1', '::1/129', '10.0.0.1,10.0.0.2']) {
    it(`throws OptionError naming ipWhitelist for ${JSON.stringify(entry)}`, () => {
      let caught: unknown;
      try {
        compileAllowList(['127.0.0.1', entry]);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(OptionError);
      expect((caught as OptionError).option).toBe('ipWhitelist');
      expect((caught as OptionError).message).toContain('ipWhitelist');
      expect((caught as OptionError).message).toContain(JSON.stringify(entry));
    });
  }

  it('throws OptionError for a non-string entry or a non-array', () => {
    expect(() => compileAllowList([42 as unknown as string])).toThrow(OptionError);
    expect(() => compileAllowList('127.0.0.1' as unknown as string[])).toThrow(OptionError);
  });

  it('clientAddress prefers Express’s request.ip over the socket address', () => {
    const base = { method: 'GET', url: '/', headers: {}, on: () => undefined };
    expect(clientAddress({ ...base, ip: '10.0.0.9', socket: { remoteAddress: '127.0.0.1' } } as IncomingRequest)).toBe('10.0.0.9');
    expect(clientAddress({ ...base, socket: { remoteAddress: '127.0.0.1' } } as IncomingRequest)).toBe('127.0.0.1');
    expect(clientAddress({ ...base, socket: {} } as IncomingRequest)).toBeUndefined();
  });
});

interface Running {
  base: string;
  close(): Promise<void>;
}

type AnyApp = {
  listen(port: number, host: string, callback: () => void): Server;
};

async function listen(app: AnyApp): Promise<Running> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function signedInit(method: string, path: string, body?: string, secret = SECRET): RequestInit {
  const headers: Record<string, string> = { ...signRequest(secret, method, path, body) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return { method, headers, ...(body === undefined ? {} : { body }) };
}

describe('requireSignature on a real Express 5 server', () => {
  let server: Running;
  const seen: unknown[] = [];

  beforeEach(async () => {
    seen.length = 0;
    const app = express();
    app.use(requireSignature(createVerifier(SECRET)) as unknown as express.RequestHandler);
    // A JSON parser after the middleware must do nothing (and not hang).
    app.use(express.json());
    app.get('/items', (req, res) => {
      seen.push(req.body);
      res.json({ ok: true, query: req.query });
    });
    app.post('/items', (req, res) => {
      seen.push(req.body);
      res.json({ got: req.body });
    });
    app.delete('/items/:id', (req, res) => {
      res.json({ deleted: req.params.id });
    });
    server = await listen(app);
  });
  afterEach(async () => {
    await server.close();
  });

  it('lets a signed GET with a query through', async () => {
    const response = await fetch(`${server.base}/items?page=2`, signedInit('GET', '/items?page=2'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, query: { page: '2' } });
  });

  it('lets a signed DELETE without a body through', async () => {
    const response = await fetch(`${server.base}/items/7`, signedInit('DELETE', '/items/7'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ deleted: '7' });
  });

  it('lets a signed POST through and hands the handler the parsed JSON body', async () => {
    const body = JSON.stringify({ name: 'Zoë', tags: ['a', 'b'], n: 1 });
    const response = await fetch(`${server.base}/items`, signedInit('POST', '/items', body));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ got: { name: 'Zoë', tags: ['a', 'b'], n: 1 } });
    expect(seen).toEqual([{ name: 'Zoë', tags: ['a', 'b'], n: 1 }]);
  });

  it('answers 401 to an unsigned request, and the handler never runs', async () => {
    const response = await fetch(`${server.base}/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(401);
    const answer = (await response.json()) as { error: string; reason: string };
    expect(answer.error).toBe('unauthorized');
    expect(answer.reason).toMatch(/missing/);
    expect(seen).toEqual([]);
  });

  it('answers 401 to a request signed with another secret', async () => {
    const response = await fetch(`${server.base}/items`, signedInit('POST', '/items', '{}', 'some-other-secret-0123456789'));
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'unauthorized', reason: 'wrong signature' });
  });

  it('answers 401 to a signature for another path', async () => {
    const init = signedInit('GET', '/items?page=1');
    const response = await fetch(`${server.base}/items?page=999`, init);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'unauthorized', reason: 'wrong signature' });
  });

  it('answers 401 to a tampered body', async () => {
    const init = signedInit('POST', '/items', '{"amount":1}');
    const response = await fetch(`${server.base}/items`, { ...init, body: '{"amount":1000}' });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'unauthorized', reason: 'body does not match its signed hash' });
    expect(seen).toEqual([]);
  });

  it('answers 401 to a replayed request', async () => {
    const init = signedInit('POST', '/items', '{"once":true}');
    const first = await fetch(`${server.base}/items`, init);
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    const second = await fetch(`${server.base}/items`, init);
    expect(second.status).toBe(401);
    expect(await second.json()).toEqual({ error: 'unauthorized', reason: 'replayed nonce' });
    expect(seen).toHaveLength(1);
  });

  it('answers 413 to a body over 1 MiB (declared by Content-Length)', async () => {
    const body = JSON.stringify({ blob: 'x'.repeat(1024 * 1024) });
    const response = await fetch(`${server.base}/items`, signedInit('POST', '/items', body));
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toBe('payload too large');
    expect(seen).toEqual([]);
  });

  it('answers 413 to a chunked body that grows past 1 MiB', async () => {
    const body = JSON.stringify({ blob: 'y'.repeat(1024 * 1024 + 10) });
    const bytes = new TextEncoder().encode(body);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.slice(i, i + 64 * 1024));
        controller.close();
      },
    });
    const init = signedInit('POST', '/items', body);
    const response = await fetch(`${server.base}/items`, { ...init, body: stream, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
    expect(seen).toEqual([]);
  });

  it('answers 400 to a signed body that is not JSON under a JSON content type', async () => {
    const response = await fetch(`${server.base}/items`, signedInit('POST', '/items', '{not json'));
    expect(response.status).toBe(400);
    expect(seen).toEqual([]);
  });

  it('answers 403 before checking anything when the address is not allowed', async () => {
    const app = express();
    app.use(
      requireSignature(createVerifier(SECRET), { allow: compileAllowList(['10.0.0.0/8'])! }) as unknown as express.RequestHandler,
    );
    app.get('/x', (_req, res) => {
      res.send('no');
    });
    const other = await listen(app);
    try {
      const response = await fetch(`${other.base}/x`, signedInit('GET', '/x'));
      expect(response.status).toBe(403);
      // A spoofed X-Forwarded-For does not help: the app does not trust proxies.
      const spoofed = signedInit('GET', '/x');
      const spoofedResponse = await fetch(`${other.base}/x`, {
        ...spoofed,
        headers: { ...(spoofed.headers as Record<string, string>), 'x-forwarded-for': '10.0.0.1' },
      });
      expect(spoofedResponse.status).toBe(403);
    } finally {
      await other.close();
    }
  });

  it('honours X-Forwarded-For only when the app trusts the proxy', async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    app.use(
      requireSignature(createVerifier(SECRET), { allow: compileAllowList(['10.0.0.0/8'])! }) as unknown as express.RequestHandler,
    );
    app.get('/x', (_req, res) => {
      res.send('yes');
    });
    const other = await listen(app);
    try {
      const init = signedInit('GET', '/x');
      const response = await fetch(`${other.base}/x`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), 'x-forwarded-for': '10.0.0.1' },
      });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('yes');
    } finally {
      await other.close();
    }
  });

  it('fails closed with 500 when a body parser ran before it on an app expressMicro() does not serve (no digest was taken)', async () => {
    const app = express();
    app.use(express.json());
    app.use(requireSignature(createVerifier(SECRET)) as unknown as express.RequestHandler);
    app.post('/x', (_req, res) => {
      res.send('should not run');
    });
    const other = await listen(app);
    try {
      const response = await fetch(`${other.base}/x`, signedInit('POST', '/x', '{"a":1}'));
      expect(response.status).toBe(500);
      expect(((await response.json()) as { reason: string }).reason).toMatch(/an app that expressMicro\(\) does not serve: put requireSignature\(\) before the body parser/);
    } finally {
      await other.close();
    }
  });
});

describe('requireSignature on a real Express 4 server', () => {
  it('passes a signed JSON POST (express.json() after it is a no-op) and refuses a tampered one', async () => {
    const app = express4();
    const seen: unknown[] = [];
    app.use(requireSignature(createVerifier(SECRET)) as Middleware as never);
    app.use(express4.json());
    app.post('/mounted/items', (req: { body: unknown }, res: { json(v: unknown): void }) => {
      seen.push(req.body);
      res.json({ got: req.body });
    });
    const server = await listen(app as unknown as AnyApp);
    try {
      const body = JSON.stringify({ v: 4 });
      const okInit = signedInit('POST', '/mounted/items', body);
      const ok = await fetch(`${server.base}/mounted/items`, okInit);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ got: { v: 4 } });
      const init = signedInit('POST', '/mounted/items', body);
      const tampered = await fetch(`${server.base}/mounted/items`, { ...init, body: JSON.stringify({ v: 5 }) });
      expect(tampered.status).toBe(401);
      const again = await fetch(`${server.base}/mounted/items`, signedInit('POST', '/mounted/items', body));
      expect(again.status).toBe(200);
      const replayed = await fetch(`${server.base}/mounted/items`, okInit);
      expect(replayed.status).toBe(401);
      const unsigned = await fetch(`${server.base}/mounted/items`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(unsigned.status).toBe(401);
      expect(seen).toEqual([{ v: 4 }, { v: 4 }]);
    } finally {
      await server.close();
    }
  });

  it('verifies the original URL when mounted under a path', async () => {
    const app = express4();
    const router = express4.Router();
    router.use(requireSignature(createVerifier(SECRET)) as Middleware as never);
    router.get('/items', (_req: unknown, res: { send(v: string): void }) => res.send('mounted'));
    app.use('/api', router);
    const server = await listen(app as unknown as AnyApp);
    try {
      const ok = await fetch(`${server.base}/api/items?q=1`, signedInit('GET', '/api/items?q=1'));
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('mounted');
      // A signature over the path as seen inside the router is not valid for the real one.
      const inner = await fetch(`${server.base}/api/items?q=1`, signedInit('GET', '/items?q=1'));
      expect(inner.status).toBe(401);
    } finally {
      await server.close();
    }
  });
});

describe('resolveSecret', () => {
  const saved = process.env.EXPRESS_DISCOVERY_KEY;
  // A folder of our own for the secret file, so no test touches (or depends on) the real one.
  const folder = mkdtempSync(join(tmpdir(), 'express-micro-resolve-secret-'));
  const unused = join(folder, 'never-created.key');
  afterEach(() => {
    if (saved === undefined) delete process.env.EXPRESS_DISCOVERY_KEY;
    else process.env.EXPRESS_DISCOVERY_KEY = saved;
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('takes the environment variable over the option', () => {
    process.env.EXPRESS_DISCOVERY_KEY = 'from-the-environment-123';
    expect(resolveSecret('from-the-option-1234567', unused)).toBe('from-the-environment-123');
    expect(resolveSecret(undefined, unused)).toBe('from-the-environment-123');
    expect(existsSync(unused)).toBe(false);
  });

  it('takes the option when the environment variable is unset or empty', () => {
    delete process.env.EXPRESS_DISCOVERY_KEY;
    expect(resolveSecret('from-the-option-1234567', unused)).toBe('from-the-option-1234567');
    process.env.EXPRESS_DISCOVERY_KEY = '';
    expect(resolveSecret('from-the-option-1234567', unused)).toBe('from-the-option-1234567');
    expect(existsSync(unused)).toBe(false);
  });

  it('throws OptionError without the secret for a short option', () => {
    delete process.env.EXPRESS_DISCOVERY_KEY;
    const short = 'tooShortSecret1';
    expect(short.length).toBe(15);
    let caught: unknown;
    try {
      resolveSecret(short);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(OptionError);
    expect((caught as OptionError).option).toBe('secret');
    expect((caught as OptionError).message).not.toContain(short);
    expect(resolveSecret('exactlySixteen16')).toBe('exactlySixteen16');
  });

  it('throws OptionError without the secret for a short environment variable, even with a good option', () => {
    process.env.EXPRESS_DISCOVERY_KEY = 'envShort';
    let caught: unknown;
    try {
      resolveSecret('a-perfectly-good-option-secret');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(OptionError);
    expect((caught as OptionError).message).toContain('EXPRESS_DISCOVERY_KEY');
    expect((caught as OptionError).message).not.toContain('envShort');
  });

  it('refuses secrets that cannot travel in a header, without showing them', () => {
    delete process.env.EXPRESS_DISCOVERY_KEY;
    for (const bad of [' leading-space-secret', 'trailing-space-secret ', 'line\nbreak-in-the-secret', 'non-ascii-secret-ü-1234']) {
      let caught: unknown;
      try {
        resolveSecret(bad);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(OptionError);
      expect((caught as OptionError).message).not.toContain(bad.trim());
    }
  });

  it('falls back to the secret file: creates it once, then reads the same secret', () => {
    delete process.env.EXPRESS_DISCOVERY_KEY;
    const path = join(folder, 'shared.key');
    const created = resolveSecret(undefined, path);
    expect(created).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(path)).toBe(true);
    expect(resolveSecret(undefined, path)).toBe(created);
  });

  it('wraps a SecretFileError in OptionError, keeping it as the cause', () => {
    delete process.env.EXPRESS_DISCOVERY_KEY;
    const target = join(folder, 'target.key');
    writeFileSync(target, `${'f'.repeat(64)}\n`, { mode: 0o600 });
    const link = join(folder, 'link.key');
    symlinkSync(target, link);
    let caught: unknown;
    try {
      resolveSecret(undefined, link);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(OptionError);
    expect((caught as OptionError).option).toBe('secret');
    expect((caught as OptionError).message).toContain('symbolic link');
    expect((caught as OptionError).message).not.toContain('f'.repeat(16));
    expect((caught as OptionError).cause).toBeInstanceOf(SecretFileError);
  });

  it('wraps other file-system failures in OptionError too', () => {
    delete process.env.EXPRESS_DISCOVERY_KEY;
    // A regular file where a folder should be: ENOTDIR, for root as for anyone.
    const notAFolder = join(folder, 'plain-file');
    writeFileSync(notAFolder, 'x');
    let caught: unknown;
    try {
      resolveSecret(undefined, join(notAFolder, 'secret.key'));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(OptionError);
    expect((caught as OptionError).option).toBe('secret');
    expect((caught as OptionError).message).toContain('could not be read from or created');
    expect((caught as OptionError).cause).not.toBeInstanceOf(SecretFileError);
  });
});
