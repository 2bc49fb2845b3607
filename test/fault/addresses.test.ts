/**
 * Issue 5, point 3: address checks. ipWhitelist against a spoofed X-Forwarded-For (refused unless
 * the app's `trust proxy` trusts the proxy it came through), the IPv6 loopback (a cluster on
 * [::1]), IPv4-mapped IPv6 clients (a server on ::ffff:127.0.0.1), and CIDR edges: every edge
 * through the compiled allow-list, and the ones a loopback client can reach through real requests.
 * Only loopback addresses are ever listened on or connected to.
 */
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import expressMicro from '../../src/index.ts';
import { signRequest } from '../../src/security/index.ts';
import { compileAllowList } from '../../src/security/index.ts';
import { discovery, SECRET, waitFor } from '../helpers.ts';
import { hasIpv6Loopback, startApp, stopApps } from './helpers.ts';

afterEach(stopApps);

const ipv6 = await hasIpv6Loopback();
if (!ipv6) console.warn('skipped: the [::1] cluster test; this machine cannot listen on ::1');

const status = async (url: string, headers: Record<string, string> = {}) => (await discovery(url, '/services', { headers })).status;

describe('ipWhitelist and X-Forwarded-For', () => {
  it('ignores a spoofed X-Forwarded-For unless trust proxy trusts the hop it came through', async () => {
    const service = await startApp('walled', { options: { ipWhitelist: ['10.1.2.3'] } });
    const spoof = { 'x-forwarded-for': '10.1.2.3' };
    let cases = 0;
    const check = async (headers: Record<string, string>, expected: number, label: string) => {
      cases++;
      expect(await status(service.url, headers), label).toBe(expected);
    };

    await check({}, 403, 'no header, loopback socket');
    await check(spoof, 403, 'trust proxy off (the default)');
    await check({ 'x-forwarded-for': '10.1.2.3, 10.1.2.3' }, 403, 'trust proxy off, repeated entry');
    await check({ forwarded: 'for=10.1.2.3', 'x-real-ip': '10.1.2.3' }, 403, 'other forwarding headers never count');
    service.app.set('trust proxy', false);
    await check(spoof, 403, 'trust proxy false');
    service.app.set('trust proxy', '10.0.0.1');
    await check(spoof, 403, 'trust proxy names another proxy: the loopback hop is not trusted');
    service.app.set('trust proxy', ['192.168.0.0/16', 'fc00::/7']);
    await check(spoof, 403, 'trust proxy ranges that exclude loopback');

    service.app.set('trust proxy', 'loopback');
    await check(spoof, 200, 'trusted loopback proxy forwards the allowed client');
    await check({ 'x-forwarded-for': '10.9.9.9' }, 403, 'trusted proxy forwards a client that is not allowed');
    // The client prepends the allowed address; the trusted proxy appends the real one: the real one counts.
    await check({ 'x-forwarded-for': '10.1.2.3, 192.168.7.7' }, 403, 'spoofed entry left of an untrusted hop');
    await check({ 'x-forwarded-for': '10.1.2.3, 127.0.0.1' }, 200, 'allowed client behind two trusted loopback hops');
    await check({ 'x-forwarded-for': 'garbage' }, 403, 'unparsable forwarded address');
    await check({ 'x-forwarded-for': '' }, 403, 'empty forwarded header');

    service.app.set('trust proxy', 1); // exactly one proxy in front: only the last entry counts
    await check({ 'x-forwarded-for': '10.1.2.3, 10.9.9.9' }, 403, 'one hop: the spoofed first entry is ignored');
    await check({ 'x-forwarded-for': '10.9.9.9, 10.1.2.3' }, 200, 'one hop: the entry the proxy appended counts');
    service.app.set('trust proxy', (address: string) => address === '127.0.0.1');
    await check(spoof, 200, 'trust proxy as a function');
    service.app.set('trust proxy', false);
    await check(spoof, 403, 'trust turned off again');
    expect(cases).toBe(17);
  });

  /** Calls to the app's own routes are signed for the instance that receives them. */
  const selfId = (service: { micro: { peers(): { self: boolean; id: string }[] } }): string => service.micro.peers().find((peer) => peer.self)!.id;

  it('applies the same rule to requireSignature() on the app own routes', async () => {
    const service = await startApp('signed-walled', {
      define: (app, micro) => {
        app.use('/private', micro.requireSignature());
        app.get('/private/x', (_req, res) => res.json({ ok: true }));
      },
      options: { enableHmac: true, ipWhitelist: ['10.1.2.3'] },
    });
    const get = (forwarded: string) => fetch(`${service.url}/private/x`, { headers: { ...signRequest(SECRET, 'GET', '/private/x', undefined, undefined, selfId(service)), 'x-forwarded-for': forwarded } });
    expect((await get('10.1.2.3')).status).toBe(403);
    service.app.set('trust proxy', 'loopback');
    expect((await get('10.1.2.3')).status).toBe(200);
    expect((await get('10.9.9.9')).status).toBe(403);
  });
});

describe('IPv6 loopback and mapped IPv4', () => {
  it.skipIf(!ipv6)('runs a cluster on [::1]: join, call, allow-list by IPv6 address and range', async () => {
    const seed = await startApp('v6-seed', {
      listenOn: '::1',
      define: (app) => app.get('/users/:id', (req, res) => res.json({ id: req.params.id, ip: req.socket.remoteAddress })),
      options: { ipWhitelist: ['::1/128'] },
    });
    expect(seed.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    const client = await startApp('v6-client', { listenOn: '::1', options: { peers: [seed.url], ipWhitelist: ['::1'] } });
    await waitFor(() => client.micro.peers().some((peer) => peer.service === 'v6-seed' && peer.status === 'UP'), 'v6 client joined the v6 seed');
    await waitFor(() => seed.micro.peers().some((peer) => peer.url === client.url && peer.status === 'UP'), 'v6 seed knows the client at its [::1] URL');
    expect(await client.micro.services.v6Seed.getUser({ id: 3 })).toEqual({ id: '3', ip: '::1' });

    const edges: [string[], number][] = [
      [['::1'], 200], [['::/127'], 200], [['::1/128'], 200], [['::2/127'], 403], [['::/128'], 403],
      [['127.0.0.1'], 403], [['127.0.0.0/8'], 403], [['0.0.0.0/0'], 403], [['::/0'], 200], [['loopback'], 200], [['fe80::/10'], 403],
    ];
    for (const [ipWhitelist, expected] of edges) {
      const service = await startApp('v6-edge', { listenOn: '::1', options: { ipWhitelist } });
      expect(await status(service.url), `${ipWhitelist} for a ::1 client`).toBe(expected);
      await service.stop();
    }
    // A v4-only allow-list refuses a v6 joiner: the join fails, nothing is added.
    const walled = await startApp('v4-only', { listenOn: '::1', options: { ipWhitelist: ['127.0.0.1'] } });
    const knocker = await startApp('v6-knocker', { listenOn: '::1', options: { peers: [walled.url] } });
    await knocker.micro.ready;
    expect(walled.micro.peers().map((peer) => peer.service)).toEqual(['v4-only']);
  });

  it('treats an IPv4-mapped client (::ffff:127.0.0.1) as 127.0.0.1 for every kind of entry', async () => {
    const seen: string[] = [];
    const edges: [string[], number][] = [
      [['127.0.0.1'], 200], [['127.0.0.0/31'], 200], [['::ffff:127.0.0.1'], 200], [['::ffff:127.0.0.0/127'], 200], [['::ffff:7f00:1'], 200],
      [['127.0.0.2'], 403], [['127.0.0.2/31'], 403], [['::ffff:127.0.0.2'], 403], [['::1'], 403], [['::/0'], 403], [['0.0.0.0/0'], 200], [['::/1'], 403], [['::ffff:0:0/96'], 200],
    ];
    for (const [ipWhitelist, expected] of edges) {
      // Listening on the mapped address makes the socket report clients as ::ffff:127.0.0.1.
      const service = await startApp('mapped', {
        listenOn: '::ffff:127.0.0.1',
        front: (req, _res, next) => (seen.push(req.socket.remoteAddress ?? ''), next()),
        options: { ipWhitelist },
      });
      expect(await status(service.url), `${ipWhitelist} for a mapped client`).toBe(expected);
      await service.stop();
    }
    expect(new Set(seen)).toEqual(new Set(['::ffff:127.0.0.1']));
  });
});

describe('CIDR edges', () => {
  it('matches exactly the addresses inside each range, first and last included', () => {
    const table: [string, string[], string[]][] = [
      ['127.0.0.0/31', ['127.0.0.0', '127.0.0.1', '::ffff:127.0.0.1'], ['127.0.0.2', '126.255.255.255', '::1']],
      ['127.0.0.2/31', ['127.0.0.2', '127.0.0.3'], ['127.0.0.1', '127.0.0.4']],
      ['127.0.0.1/32', ['127.0.0.1'], ['127.0.0.0', '127.0.0.2']],
      ['10.0.0.0/8', ['10.0.0.0', '10.255.255.255', '::ffff:10.1.2.3'], ['9.255.255.255', '11.0.0.0']],
      ['192.168.1.128/25', ['192.168.1.128', '192.168.1.255'], ['192.168.1.127', '192.168.2.0']],
      ['0.0.0.0/0', ['0.0.0.0', '255.255.255.255', '127.0.0.1'], ['::1', '2001:db8::1']],
      ['0.0.0.0/1', ['127.255.255.255', '0.0.0.0'], ['128.0.0.0']],
      ['128.0.0.0/1', ['128.0.0.0', '255.255.255.255'], ['127.255.255.255']],
      ['::1/128', ['::1', '0:0:0:0:0:0:0:1'], ['::', '::2', '127.0.0.1']],
      ['::/127', ['::', '::1'], ['::2']],
      ['2001:db8::/32', ['2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'], ['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db9::']],
      ['fe80::/10', ['fe80::1', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], ['fec0::', 'fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
      ['::ffff:10.0.0.0/104', ['10.0.0.0', '10.255.255.255', '::ffff:10.0.0.1'], ['11.0.0.0']],
      // A mapped client is IPv4; a plain IPv6 range, however wide, never spans IPv4 (only ::ffff:…/≥96 does).
      ['::/0', ['::', '::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], ['127.0.0.1', '10.0.0.1', '::ffff:127.0.0.1']],
      ['::ffff:0:0/96', ['127.0.0.1', '::ffff:10.0.0.1', '255.255.255.255'], ['::1', '::']],
      ['127.0.0.1/31', ['127.0.0.0', '127.0.0.1'], ['127.0.0.2']], // host bits set: the network counts
    ];
    let checks = 0;
    for (const [range, inside, outside] of table) {
      const allow = compileAllowList([range])!;
      for (const address of inside) expect(allow(address), `${address} inside ${range}`).toBe(true);
      for (const address of outside) expect(allow(address), `${address} outside ${range}`).toBe(false);
      checks += inside.length + outside.length;
    }
    const allow = compileAllowList(['127.0.0.1'])!;
    for (const nothing of [undefined, '', 'not-an-ip', '127.0.0.1 ', '127.1']) expect(allow(nothing), String(nothing)).toBe(false);
    expect(checks).toBeGreaterThanOrEqual(50);
  });

  it('refuses an entry that is not an address or range, naming it', () => {
    for (const entry of ['127.0.0.1/33', '::1/129', '10.0.0.0/-1', '1.2.3', 'localhost', '', '10.0.0.0/8/8', '300.0.0.1', ':::1', '127.0.0.1/ 8', 'bogus/0', '1.2.3/0', '/0']) {
      const attempt = () => expressMicro(express(), { serviceName: 'x', host: '127.0.0.1', secret: SECRET, logger: false, ipWhitelist: [entry] });
      expect(attempt, JSON.stringify(entry)).toThrow(expressMicro.OptionError);
      expect(attempt, JSON.stringify(entry)).toThrow(/ipWhitelist/);
    }
  });

  it('lets a 127.0.0.1 client through exactly the ranges whose edge includes it', async () => {
    const edges: [string[], number][] = [
      [['127.0.0.0/31'], 200], [['127.0.0.1/32'], 200], [['127.0.0.0/8'], 200], [['0.0.0.0/1'], 200], [['127.0.0.1/31'], 200],
      [['127.0.0.2/31'], 403], [['127.0.0.0/32'], 403], [['128.0.0.0/1'], 403], [['126.255.255.255/32', '127.0.0.2/31'], 403],
      [['::1'], 403], [['10.0.0.0/8', '127.0.0.1'], 200],
    ];
    for (const [ipWhitelist, expected] of edges) {
      const service = await startApp('v4-edge', { options: { ipWhitelist } });
      expect(await status(service.url), `${ipWhitelist}`).toBe(expected);
      // Refused before the credentials are even looked at: a wrong bearer still gets 403, not 401.
      if (expected === 403) expect((await discovery(service.url, '/services', { bearer: 'wrong' })).status).toBe(403);
      await service.stop();
    }
  });
});
