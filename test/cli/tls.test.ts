/**
 * The command line against a cluster that uses `tls` (mutual TLS): --ca, --cert and --key reach
 * it for status, call and types; without them, or with bad files, one line and exit code 2.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { certificates, hasOpenssl } from '../support/certificates.ts';
import { startTls, stopTlsServices } from '../support/tls-service.ts';
import { SECRET, waitFor } from '../helpers.ts';
import { runCli, tempFolder } from './support.ts';

const available = hasOpenssl();
if (!available) console.info('test/cli/tls.test.ts: skipped: openssl is not installed (apt-get install openssl)');
if (!available && process.env.CI === 'true') throw new Error('test/cli/tls.test.ts: openssl is missing under CI=true (.ci/run installs it)');

const folder = tempFolder('cli-tls');
beforeEach(() => void vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET));
afterEach(async () => {
  vi.unstubAllEnvs();
  await stopTlsServices();
});
afterAll(() => folder.remove());

/** Writes the PEM files the flags name; returns their paths. */
function files(): Record<'ca' | 'cert' | 'key' | 'otherKey' | 'junk', string> {
  const { ca, node, other } = certificates();
  const write = (name: string, text: string) => {
    const path = join(folder.path, name);
    writeFileSync(path, text);
    return path;
  };
  return { ca: write('ca.pem', ca), cert: write('cli.pem', node.cert), key: write('cli.key', node.key), otherKey: write('other.key', other.key), junk: write('junk.pem', 'not a certificate\n') };
}

(available ? describe : describe.skip)('command line over mutual TLS', () => {
  it('status, call and types reach a TLS cluster with --ca, --cert and --key', async () => {
    const { ca, node, other } = certificates();
    const users = await startTls('user-service', node, { ca, ...node });
    const orders = await startTls('order-service', other, { ca, ...other }, { peers: [users.url] });
    await waitFor(() => orders.micro.peers().some((peer) => peer.url === users.url && peer.status === 'UP'), 'the cluster formed', 10_000);
    const pem = files();
    const flags = ['--ca', pem.ca, '--cert', pem.cert, '--key', pem.key];
    const status = await runCli(['status', '--peer', users.url, ...flags]);
    expect(status.err).toBe('');
    expect(status.code).toBe(0);
    expect(status.out).toContain(orders.url);
    expect(status.out).toContain(users.url);
    const call = await runCli(['call', 'user-service', 'getUser', '{"id":7}', '--peer', users.url, ...flags]);
    expect(call.err).toBe('');
    expect(JSON.parse(call.out)).toEqual({ id: '7', over: 'https' });
    const types = await runCli(['types', '--peer', users.url, ...flags]);
    expect(types.code).toBe(0);
    expect(types.out).toContain('getUser');
  }, 30_000);

  it('says in one line why it cannot: no --ca, --cert without --ca, a file that is not PEM, a key of another certificate', async () => {
    const { ca, node } = certificates();
    const users = await startTls('user-service', node, { ca, ...node });
    const pem = files();
    const cases: [string[], RegExp][] = [
      [['status', '--peer', users.url], /TLS handshake failed.*give --ca/],
      [['status', '--peer', users.url, '--ca', pem.ca], /refuses a client certificate: give --cert and --key/],
      [['status', '--peer', users.url, '--cert', pem.cert, '--key', pem.key], /--cert and --key need --ca/],
      [['status', '--peer', users.url, '--ca', pem.junk], /--ca .*junk\.pem: holds no PEM certificate/],
      [['status', '--peer', users.url, '--ca', join(folder.path, 'missing.pem')], /--ca .*missing\.pem: no such file/],
      [['call', 'user-service', 'getUser', '{"id":1}', '--peer', users.url, '--ca', pem.ca, '--cert', pem.cert, '--key', pem.otherKey], /--key .*other\.key: does not match --cert/],
    ];
    for (const [argv, reason] of cases) {
      const run = await runCli(argv);
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.err.trim().split('\n'), argv.join(' ')).toHaveLength(1);
      expect(run.err, argv.join(' ')).toMatch(reason);
    }
  }, 30_000);
});
