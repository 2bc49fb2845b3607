/**
 * `express-micro call --hmac` follows a restarted instance's signed claim of its new id, and
 * signs with the previous secret (EXPRESS_DISCOVERY_KEY_PREVIOUS) where the first is refused
 * during a rotation: both as the library's own calls do (docs/ARCHITECTURE.md, "Signed calls";
 * README, "Rotating the secret"), with the library's code.
 */
import express from 'express';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import expressMicro, { type ExpressMicro, type ExpressMicroOptions } from '../../src/index.ts';
import { SECRET, startService, stopAll, waitFor } from '../helpers.ts';
import { freePort, runCli } from './support.ts';

const OLD = SECRET;
const NEW = 'the-new-secret-0123456789abcdef0123456789';

/** secure-service: GET and POST /accounts behind requireSignature(), on `port`, counting what its handlers ran. */
async function startSecure(port: number, options: ExpressMicroOptions): Promise<{ micro: ExpressMicro; ran: string[]; silence(): Promise<void>; stop(): Promise<void> }> {
  const app = express();
  const ran: string[] = [];
  const micro = expressMicro(app, { serviceName: 'secure-service', host: '127.0.0.1', port, secret: OLD, enableHmac: true, pingInterval: 60_000, logger: false, ...options });
  app.use(express.json());
  app.use('/accounts', micro.requireSignature());
  app.get('/accounts/:id', (req, res) => {
    ran.push(`GET ${req.params.id}`);
    res.json({ id: req.params.id, by: micro.peers().find((peer) => peer.self)?.id });
  });
  app.post('/accounts', (req, res) => {
    ran.push(`POST ${JSON.stringify(req.body)}`);
    res.status(201).json({ created: req.body as unknown });
  });
  // Not app.listen(): closing this server does not close the plugin, so no leave is sent.
  const server = await new Promise<Server>((resolve) => {
    const listening = createServer(app).listen(port, '127.0.0.1', () => resolve(listening));
  });
  await waitFor(() => micro.url !== undefined, 'secure-service started');
  const silence = async (): Promise<void> => {
    if (!server.listening) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { micro, ran, silence, stop: async () => (await silence(), await micro.close()) };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(stops.splice(0).map((stop) => stop()));
  await stopAll();
});

describe('express-micro call --hmac', () => {
  it('follows the claim of an instance restarted in place (same address, new id), GET and POST, each handler run once', async () => {
    // A peer that probes rarely, so its table still lists the process before the restart.
    const watcher = await startService('watcher-service', () => {}, { enableHmac: true, pingInterval: 60_000 });
    const port = await freePort();
    const before = await startSecure(port, { peers: [watcher.url] });
    const oldId = before.micro.peers().find((peer) => peer.self)?.id as string;
    await waitFor(() => watcher.micro.peers().some((peer) => peer.id === oldId && peer.status === 'UP'), 'watcher sees secure-service');
    // The process goes (its server only: no leave, as in a crash); stopped for good after the test.
    await before.silence();
    stops.push(before.stop);
    // The restart: a new process (new id) at the same address, which tells nobody.
    const after = await startSecure(port, { peers: [] });
    stops.push(after.stop);
    const newId = after.micro.peers().find((peer) => peer.self)?.id as string;
    expect(newId).not.toBe(oldId);
    expect(watcher.micro.peers().find((peer) => peer.service === 'secure-service')?.id).toBe(oldId);

    vi.stubEnv('EXPRESS_DISCOVERY_KEY', OLD);
    expect(await runCli(['call', '--peer', watcher.url, '--hmac', 'secure-service', 'getAccount', '{"id":"a1"}'])).toEqual({ code: 0, out: `{\n  "id": "a1",\n  "by": "${newId}"\n}\n`, err: '' });
    expect(await runCli(['call', '--peer', watcher.url, '--hmac', 'secure-service', 'createAccount', '{"n":1}'])).toEqual({ code: 0, out: '{\n  "created": {\n    "n": 1\n  }\n}\n', err: '' });
    expect(after.ran).toEqual(['GET a1', 'POST {"n":1}']);
    // Both at once: mid-rotation (the command has a new key the instance does not take yet) and
    // signed for the process before the restart.
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', NEW);
    vi.stubEnv('EXPRESS_DISCOVERY_KEY_PREVIOUS', OLD);
    expect(await runCli(['call', '--peer', watcher.url, '--hmac', 'secure-service', 'createAccount', '{"n":2}'])).toEqual({ code: 0, out: '{\n  "created": {\n    "n": 2\n  }\n}\n', err: '' });
    expect(after.ran).toEqual(['GET a1', 'POST {"n":1}', 'POST {"n":2}']);
  }, 30_000);

  it('refuses a claim made under another secret: the 401 stands, exit 1', async () => {
    // The instance at the address answers under a secret the command does not hold.
    const watcher = await startService('watcher-service', () => {}, { enableHmac: true, pingInterval: 60_000 });
    const port = await freePort();
    const before = await startSecure(port, { peers: [watcher.url] });
    const oldId = before.micro.peers().find((peer) => peer.self)?.id as string;
    await waitFor(() => watcher.micro.peers().some((peer) => peer.id === oldId && peer.status === 'UP'), 'watcher sees secure-service');
    await before.silence();
    stops.push(before.stop);
    const after = await startSecure(port, { peers: [], secret: [NEW, OLD] });
    stops.push(after.stop);
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', OLD);
    // NEW signs the claim; the command checks it under OLD only, so it is not followed.
    const run = await runCli(['call', '--peer', watcher.url, '--hmac', 'secure-service', 'getAccount', '{"id":"a1"}']);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/RemoteError: .* got 401 .*signed for another instance/);
    expect(after.ran).toEqual([]);
  }, 30_000);

  it('signs with the previous secret where an instance does not take the new one yet (rotation), and runs the handler once', async () => {
    // Step 1 of a rotation seen by an operator who already has the new key: the instances still
    // hold only the old one; the command has EXPRESS_DISCOVERY_KEY=new, _PREVIOUS=old.
    const watcher = await startService('watcher-service', () => {}, { enableHmac: true, secret: [OLD, NEW] });
    const secure = await startSecure(await freePort(), { peers: [watcher.url], secret: OLD });
    stops.push(secure.stop);
    await waitFor(() => watcher.micro.peers().some((peer) => peer.service === 'secure-service' && peer.status === 'UP'), 'watcher sees secure-service');
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', NEW);
    vi.stubEnv('EXPRESS_DISCOVERY_KEY_PREVIOUS', OLD);
    expect(await runCli(['call', '--peer', watcher.url, '--hmac', 'secure-service', 'createAccount', '{"n":2}'])).toEqual({ code: 0, out: '{\n  "created": {\n    "n": 2\n  }\n}\n', err: '' });
    expect(secure.ran).toEqual(['POST {"n":2}']);
    // Without the previous secret the instance's refusal is the answer.
    vi.stubEnv('EXPRESS_DISCOVERY_KEY_PREVIOUS', '');
    const refused = await runCli(['call', '--peer', watcher.url, '--hmac', 'secure-service', 'createAccount', '{"n":3}']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/RemoteError: .* got 401 .*wrong signature/);
    expect(secure.ran).toEqual(['POST {"n":2}']);
  }, 30_000);
});
