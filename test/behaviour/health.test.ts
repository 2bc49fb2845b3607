import express from 'express';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import expressMicro from '../../src/index.ts';
import type { InstanceInfo } from '../../src/index.ts';
import { killAll, SECRET, spawnService, startService, stopAll, upInstances, waitFor } from '../helpers.ts';

afterEach(async () => {
  await stopAll();
  await killAll();
});

const PING = 200;

/** A service served by a plain http.Server, so closing the server leaves the plugin running. */
async function detachedService(serviceName: string, peers: string[]) {
  const app = express();
  app.get('/ping-me', (_req, res) => res.json({ ok: true }));
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const micro = expressMicro(app, { serviceName, host: '127.0.0.1', port, peers, secret: SECRET, pingInterval: PING, logger: false });
  let server: Server | undefined;
  const listen = () => new Promise<void>((resolve) => (server = createServer(app).listen(port, '127.0.0.1', resolve)));
  const silence = () => {
    server?.closeAllConnections();
    return new Promise<void>((resolve) => server?.close(() => resolve()));
  };
  await listen();
  return { micro, url: `http://127.0.0.1:${port}`, listen, silence, async stop() { await micro.close(); await silence(); } };
}

describe('health', () => {
  it('suspects a dead instance within one probe, confirms it DOWN within the suspicion bound, once', async () => {
    const victim = await spawnService('user-service');
    const watcher = await startService('watcher', () => {}, { peers: [victim.url], pingInterval: PING });
    await waitFor(() => upInstances(watcher.micro, 'user-service').length === 1, 'victim UP');
    const suspects: InstanceInfo[] = [];
    const downs: InstanceInfo[] = [];
    watcher.micro.on('suspect', (instance) => suspects.push(instance));
    watcher.micro.on('down', (instance) => downs.push(instance));
    await victim.kill();
    const killed = Date.now();
    // One interval, the probe timeout (PING / 2) and the second direct try, with one more
    // interval of slack for a busy machine: the member is suspected, out of the call rotation.
    await waitFor(() => suspects.length > 0, 'suspect event', 3 * PING + PING / 2);
    expect(suspects.map((instance) => [instance.service, instance.status, instance.suspect])).toEqual([['user-service', 'UP', true]]);
    expect(downs).toEqual([]);
    // Two members: no one else can confirm, so the suspicion lasts its minimum, 4 intervals.
    await waitFor(() => downs.length > 0, 'DOWN event', 4 * PING + 3 * PING);
    expect(Date.now() - killed).toBeGreaterThanOrEqual(4 * PING);
    expect(downs.map((instance) => [instance.service, instance.status, instance.suspect])).toEqual([['user-service', 'DOWN', false]]);
    // Several more pings fail: still one event. A listener at the dead port counts them, and
    // drops each connection so every ping fails.
    let pings = 0;
    const grave = createNetServer((socket) => {
      pings++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => grave.listen(victim.port, '127.0.0.1', resolve));
    try {
      await waitFor(() => pings >= 3, 'three more failed pings', 6 * PING);
      expect(downs).toHaveLength(1);
    } finally {
      await new Promise((resolve) => grave.close(resolve));
    }
  });

  it('brings an instance back UP by itself when it answers again, firing up/down once each', async () => {
    const seed = await startService('seed-service');
    const flaky = await detachedService('flaky-service', [seed.url]);
    const events: string[] = [];
    seed.micro.on('up', (instance) => instance.service === 'flaky-service' && events.push('up'));
    seed.micro.on('down', (instance) => instance.service === 'flaky-service' && events.push('down'));
    await waitFor(() => upInstances(seed.micro, 'flaky-service').length === 1, 'flaky UP');
    events.length = 0;
    await flaky.silence();
    await waitFor(() => upInstances(seed.micro, 'flaky-service').length === 0, 'flaky DOWN');
    await flaky.listen();
    await waitFor(() => upInstances(seed.micro, 'flaky-service').length === 1, 'flaky UP again');
    expect(events).toEqual(['down', 'up']);
    await flaky.stop();
  });

  it('forgets an instance that stays DOWN longer than forgetAfter', async () => {
    const victim = await spawnService('user-service');
    const watcher = await startService('watcher', () => {}, { peers: [victim.url], forgetAfter: 3 * PING });
    await waitFor(() => upInstances(watcher.micro, 'user-service').length === 1, 'victim UP');
    const removed: string[] = [];
    watcher.micro.on('removed', (instance) => removed.push(instance.service));
    await victim.kill();
    await waitFor(() => removed.length === 1, 'victim forgotten', 10 * PING);
    expect(watcher.micro.peers().some((peer) => peer.service === 'user-service')).toBe(false);
  });

  it('fires the seed options onServiceUp and onServiceDown, once per change', async () => {
    const victim = await spawnService('user-service');
    const ups: string[] = [];
    const downs: string[] = [];
    const watcher = await startService('watcher', () => {}, {
      peers: [victim.url],
      onServiceUp: (instance) => ups.push(instance.service),
      onServiceDown: (instance) => downs.push(instance.service),
    });
    await waitFor(() => ups.includes('user-service'), 'onServiceUp');
    await victim.kill();
    await waitFor(() => downs.length === 1, 'onServiceDown');
    expect(ups.filter((name) => name === 'user-service')).toHaveLength(1);
    expect(downs).toEqual(['user-service']);
    expect(watcher.micro.peers().find((peer) => peer.service === 'user-service')?.status).toBe('DOWN');
  });

  it('never counts a seed that accepts connections but never answers', async () => {
    // A TCP listener that never answers HTTP.
    const mute = createServer(() => {});
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    const muteUrl = `http://127.0.0.1:${(mute.address() as AddressInfo).port}`;
    const watcher = await startService('watcher', () => {}, { peers: [muteUrl] });
    await watcher.micro.ready;
    expect(watcher.micro.peers().map((peer) => peer.service)).toEqual(['watcher']);
    mute.closeAllConnections();
    await new Promise((resolve) => mute.close(resolve));
  });
});

describe('events', () => {
  it('fire for other instances only, never for this one', async () => {
    const seen: string[] = [];
    const seed = await startService('seed-service', (_app, micro) => {
      micro.on('discovered', (instance) => seen.push(`discovered ${instance.service}`));
      micro.on('up', (instance) => seen.push(`up ${instance.service}`));
    });
    await startService('b-service', () => {}, { peers: [seed.url] });
    await waitFor(() => seen.length === 2, 'b discovered and up');
    expect(seen).toEqual(['discovered b-service', 'up b-service']);
  });
});
