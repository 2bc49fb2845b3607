/**
 * HTTPS between instances, with mutual TLS (option `tls`): a cluster forms and calls over it; an
 * instance without a certificate, or with one from another CA, is refused; a peer whose
 * certificate does not verify is said once and never comes UP; a TLS instance never sends to a
 * plain http:// member; bad material fails at start naming the field; the client side rotates
 * with updateTls(). Certificates come from openssl (test/support/certificates.ts).
 */
import express from 'express';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import expressMicro, { OptionError, type EtcdTlsOptions, type ExpressMicro, type ExpressMicroOptions, type TlsOptions } from '../../src/index.ts';
import { resolveOptions } from '../../src/options.ts';
import { startTls, stopLater, stopTlsServices, type TlsService } from '../support/tls-service.ts';
import { readTlsMaterial } from '../../src/runtime/index.ts';
import { SECRET, waitFor } from '../helpers.ts';
import { certificates, hasOpenssl, type KeyPair } from '../support/certificates.ts';

const available = hasOpenssl();
if (!available) console.info('tls.test.ts: skipped: openssl is not installed (apt-get install openssl)');
if (!available && process.env.CI === 'true') throw new Error('tls.test.ts: openssl is missing under CI=true (.ci/run installs it)');
const suite = available ? describe : describe.skip;

// 20 s: Bun gives a hook 5 s, which a stop once outlasted on a busy machine (see tls-service.ts).
afterEach(stopTlsServices, 20_000);

/** A POST with this test's own client certificate, as another member would send it. */
function postOverTls(url: string, path: string, body: unknown, client: KeyPair): Promise<number> {
  const { ca } = certificates();
  return new Promise((resolve, reject) => {
    const sent = request(`${url}${path}`, { method: 'POST', ca, ...client, headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    sent.on('error', reject);
    sent.end(JSON.stringify(body));
  });
}

const upAt = (micro: ExpressMicro, url: string) => micro.peers().some((peer) => peer.url === url && peer.status === 'UP');

suite('tls: HTTPS between instances, with mutual TLS', () => {
  it('forms a cluster over mutual TLS: https URLs, joins, calls', async () => {
    const { ca, node, other } = certificates();
    const users = await startTls('user-service', node, { ca, ...node });
    const orders = await startTls('order-service', other, { ca, ...other }, { peers: [users.url] });
    expect(users.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    await waitFor(() => upAt(orders.micro, users.url) && upAt(users.micro, orders.url), 'both UP over TLS', 10_000);
    expect(await orders.micro.services.userService.getUser({ id: 7 })).toEqual({ id: '7', over: 'https' });
    expect(users.warnings).toEqual([]);
    expect(orders.warnings).toEqual([]);
  }, 20_000);

  it('refuses an instance without a client certificate, and one whose certificate is from another CA', async () => {
    const { ca, node, other, strangerCa, stranger } = certificates();
    const users = await startTls('user-service', node, { ca, ...node });
    // No certificate: the server asks for one, so the handshake fails; said once, never UP.
    const anonymous = await startTls('anonymous-service', other, { ca }, { peers: [users.url] });
    // A certificate from a CA the cluster does not trust.
    const foreign = await startTls('foreign-service', other, { ca, ...stranger }, { peers: [users.url] });
    // Trusts only another CA: cannot verify the cluster's certificates.
    const suspicious = await startTls('suspicious-service', other, { ca: strangerCa, ...other }, { peers: [users.url] });
    // Each says once why it cannot join: the server closed the connection after the handshake
    // (TLS 1.3: refusing a client certificate looks like that), or the certificate did not verify.
    for (const refused of [anonymous, foreign, suspicious]) {
      await waitFor(() => refused.warnings.some((line) => line.includes(users.url)), `${refused.url} says why it cannot join user-service`, 10_000);
    }
    for (const refused of [anonymous, foreign]) expect(refused.warnings.find((line) => line.includes(users.url))).toMatch(/refuses this instance's certificate|TLS handshake failed/);
    expect(suspicious.warnings.find((line) => line.includes(users.url))).toMatch(/TLS handshake failed \(.*(certificate|issuer).*\)/i);
    // They keep trying to join (each round), and keep being refused: still nobody got in, and
    // each said it once.
    const attempts = (service: TlsService) => service.debug.filter((line) => line.includes(users.url)).length;
    await waitFor(() => [anonymous, foreign, suspicious].every((refused) => attempts(refused) >= 3), 'three more refused attempts by each', 10_000);
    for (const refused of [anonymous, foreign, suspicious]) {
      expect(upAt(users.micro, refused.url)).toBe(false);
      expect(upAt(refused.micro, users.url)).toBe(false);
      expect(refused.warnings.filter((line) => line.includes(users.url))).toHaveLength(1);
    }
  }, 30_000);

  it('never brings UP a member whose own certificate does not verify, even when it introduces itself', async () => {
    const { ca, node, other, stranger } = certificates();
    const users = await startTls('user-service', node, { ca, ...node });
    // Its client certificate is the cluster's (so its register gets in), but it serves one from
    // another CA: user-service cannot reach it, and must not list it UP.
    const twoFaced = await startTls('two-faced-service', stranger, { ca, ...other }, { peers: [users.url] });
    const ups: string[] = [];
    users.micro.on('up', (instance) => void ups.push(instance.url));
    await waitFor(() => users.warnings.some((line) => line.includes(twoFaced.url) && line.includes('TLS handshake failed')), 'user-service says it cannot verify two-faced-service', 10_000);
    expect(ups).not.toContain(twoFaced.url);
    expect(users.micro.peers().some((peer) => peer.url === twoFaced.url)).toBe(false);
  }, 20_000);

  it('never sends to a plain http:// member: left out, said once, no request reaches it', async () => {
    const { ca, node, other } = certificates();
    const users = await startTls('user-service', node, { ca, ...node });
    let reached = 0;
    const plain: HttpServer = createHttpServer((_request, response) => {
      reached++;
      response.end('{}');
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    stopLater({ stop: () => new Promise<void>((resolve) => plain.close(() => resolve())) });
    const plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    const descriptor = { protocol: 2, name: 'plain-service', id: 'plain0123456789ab', url: plainUrl, routes: [], rev: 'r1', incarnation: 0 };
    expect(await postOverTls(users.url, '/_discovery/register', { self: descriptor, members: [] }, other)).toBe(200);
    expect(await postOverTls(users.url, '/_discovery/gossip', { id: 'plain0123456789ab', updates: [{ name: 'plain-service', id: 'plain0123456789ab', url: plainUrl, incarnation: 1, status: 'alive', rev: 'r1' }] }, other)).toBe(200);
    await waitFor(() => users.warnings.some((line) => line.includes(plainUrl)), 'user-service says it leaves the plain member out');
    expect(users.warnings.filter((line) => line.includes(plainUrl))).toEqual([`express-micro: left out the member at ${plainUrl}: this instance uses TLS and never sends over plain http`]);
    expect(users.micro.peers().some((peer) => peer.url === plainUrl)).toBe(false);
    expect(reached).toBe(0);
  }, 20_000);

  it('rotates the client side with updateTls(): new connections use the new material', async () => {
    const { ca, node, other, strangerCa } = certificates();
    const users = await startTls('user-service', node, { ca, ...node });
    const orders = await startTls('order-service', other, { ca, ...other }, { peers: [users.url] });
    await waitFor(() => upAt(orders.micro, users.url), 'order-service sees user-service UP', 10_000);
    expect(await orders.micro.services.userService.getUser({ id: 1 })).toEqual({ id: '1', over: 'https' });
    // Another certificate from the same CA: calls go on.
    orders.micro.updateTls({ ca, ...node });
    expect(await orders.micro.services.userService.getUser({ id: 2 })).toEqual({ id: '2', over: 'https' });
    // Trust only a CA that did not issue user-service's certificate: new connections fail.
    orders.micro.updateTls({ ca: strangerCa, ...node });
    await expect(orders.micro.services.userService.getUser({ id: 3 }, { timeout: 2000 })).rejects.toThrow(/TLS handshake failed/);
    orders.micro.updateTls({ ca, ...other });
    await waitFor(async () => (await orders.micro.services.userService.getUser({ id: 4 }).then(() => true, () => false)), 'calls work again after the swap back', 10_000);
    // Bad material is refused naming the field, and changes nothing.
    expect(() => orders.micro.updateTls({ ca: 'not a certificate' })).toThrow(OptionError);
    expect(await orders.micro.services.userService.getUser({ id: 5 })).toEqual({ id: '5', over: 'https' });
  }, 30_000);

  it('refuses bad TLS material at start, naming the field', () => {
    const { ca, node, other, stranger, encryptedKey } = certificates();
    const app = express();
    const start = (tls: unknown, extra: ExpressMicroOptions = {}) => () => expressMicro(app, { serviceName: 'x', host: '127.0.0.1', secret: SECRET, logger: false, tls: tls as TlsOptions, ...extra });
    const field = (tls: unknown, extra: ExpressMicroOptions = {}): string => {
      try {
        start(tls, extra)();
      } catch (error) {
        expect(error).toBeInstanceOf(OptionError);
        expect((error as Error).message).not.toContain('PRIVATE KEY');
        return (error as OptionError).option;
      }
      throw new Error('expressMicro() accepted it');
    };
    expect(field('yes')).toBe('tls');
    expect(field({})).toBe('tls.ca');
    expect(field({ ca: 'not a certificate' })).toBe('tls.ca');
    expect(field({ ca: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' })).toBe('tls.ca');
    expect(field({ ca: [] })).toBe('tls.ca');
    expect(field({ ca: 'x'.repeat(2 * 1024 * 1024) })).toBe('tls.ca');
    expect(field({ ca: 42 })).toBe('tls.ca');
    expect(field({ ca, cert: node.cert })).toBe('tls.key');
    expect(field({ ca, key: node.key })).toBe('tls.cert');
    expect(field({ ca, cert: node.cert, key: other.key })).toBe('tls.key');
    expect(field({ ca, cert: stranger.cert, key: 'garbage' })).toBe('tls.key');
    expect(field({ ca, cert: 'garbage', key: node.key })).toBe('tls.cert');
    expect(field({ ca, cert: node.cert, key: encryptedKey, passphrase: 'wrong' })).toBe('tls.passphrase');
    expect(field({ ca, cert: node.cert, key: encryptedKey })).toBe('tls.passphrase');
    expect(field({ ca, ciphers: 'x' })).toBe('tls.ciphers');
    expect(field({ ca, ...node }, { peers: ['http://127.0.0.1:3000'] })).toBe('peers');
    // What works: an encrypted key with its passphrase, Buffers, several CAs.
    const bytes = (text: string) => new TextEncoder().encode(text);
    expect(() => readTlsMaterial({ ca: [ca, stranger.cert], cert: bytes(node.cert), key: encryptedKey, passphrase: 'correct horse' })).not.toThrow();
    // An expired certificate: the same one, seen from three days on.
    expect(() => readTlsMaterial({ ca, ...node }, { now: Date.now() + 3 * 86_400_000 })).toThrow(/tls.cert|expired/);
    // updateTls on an instance without tls: its URL is http://.
    const plain = expressMicro(express(), { serviceName: 'y', host: '127.0.0.1', secret: SECRET, logger: false });
    expect(() => plain.updateTls({ ca })).toThrow(OptionError);
    void plain.close();
  });

  it('checks registry.tls as it checks tls, naming the registry field; the CA may be left to the system', () => {
    const { ca, node, other, encryptedKey } = certificates();
    const endpoints = ['https://127.0.0.1:2379'];
    const field = (tls: unknown): string => {
      try {
        resolveOptions({ serviceName: 'x', logger: false, registry: { type: 'etcd', endpoints, tls: tls as EtcdTlsOptions } });
      } catch (error) {
        expect(error).toBeInstanceOf(OptionError);
        expect((error as Error).message).not.toContain('PRIVATE KEY');
        return (error as OptionError).option;
      }
      return '';
    };
    expect(field('yes')).toBe('registry.tls');
    expect(field({ ca: '/etc/etcd/ca.pem' })).toBe('registry.tls.ca');
    expect(field({ ca: 'x'.repeat(2 * 1024 * 1024) })).toBe('registry.tls.ca');
    expect(field({ ca, cert: node.cert })).toBe('registry.tls.key');
    expect(field({ ca, key: node.key })).toBe('registry.tls.cert');
    expect(field({ ca, cert: node.cert, key: other.key })).toBe('registry.tls.key');
    expect(field({ ca, cert: node.cert, key: encryptedKey })).toBe('registry.tls.passphrase');
    expect(field({ ca, ciphers: 'x' })).toBe('registry.tls.ciphers');
    // What works: no CA (etcd behind the system's authorities), Buffers, an encrypted key with its passphrase.
    expect(field({})).toBe('');
    expect(field({ ca: new TextEncoder().encode(ca), cert: node.cert, key: encryptedKey, passphrase: 'correct horse' })).toBe('');
    expect(resolveOptions({ serviceName: 'x', logger: false, registry: { type: 'etcd', endpoints, tls: { cert: node.cert, key: node.key } } }).registry).toMatchObject({ tls: { ca: [], cert: node.cert } });
  });
});
