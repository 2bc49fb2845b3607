/**
 * What a new user meets on day one: the listen callback, `ready`, the default name under
 * `npm start`, what is logged, and an app whose own middleware (a rate limiter, a request logger,
 * a catch-all 404) is mounted before the plugin. Express 4 and 5.
 */
import express5 from 'express';
import express4 from 'express4';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import expressMicro from '../../src/index.ts';
import type { ExpressApp, ExpressMicro } from '../../src/index.ts';
import { killAll, recordingLogger, SECRET, spawnService, startService, stopAll, upInstances, waitFor } from '../helpers.ts';

type Factory = () => ExpressApp & { listen: (...args: unknown[]) => Server; use: (...args: unknown[]) => unknown; get: (...args: unknown[]) => unknown };
const EXPRESSES: { name: string; create: Factory }[] = [
  { name: 'Express 5', create: express5 as unknown as Factory },
  { name: 'Express 4', create: express4 as unknown as Factory },
];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  await stopAll();
});

function track(micro: ExpressMicro, server: Server): void {
  cleanups.push(async () => {
    await micro.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
}


describe.each(EXPRESSES)('day one on $name', ({ create }) => {
  it('has url and peers() set inside the app.listen callback', async () => {
    const app = create();
    const micro = expressMicro(app, { serviceName: 'listen-service', host: '127.0.0.1', secret: SECRET, logger: false });
    const seen = await new Promise<{ url: string | undefined; self: number; port: number }>((resolve) => {
      const server: Server = app.listen(0, '127.0.0.1', function (this: Server) {
        resolve({ url: micro.url, self: micro.peers().filter((peer) => peer.self).length, port: (this.address() as { port: number }).port });
      });
      track(micro, server);
    });
    expect(seen.url).toBe(`http://127.0.0.1:${seen.port}`);
    expect(seen.self).toBe(1);
  });

  it('serves /_discovery ahead of a rate limiter, a request logger and a catch-all 404 mounted first', async () => {
    const logged: string[] = [];
    let limited = 0;
    const make = async (serviceName: string, peers: string[]) => {
      const app = create();
      let count = 0;
      // A strict limiter: the 4th request onwards gets 429, as express-rate-limit would answer.
      app.use((req: { url: string }, res: { status(code: number): { end(): void } }, next: () => void) => {
        logged.push(`${serviceName} ${req.url}`);
        if (++count > 3) {
          limited++;
          res.status(429).end();
          return;
        }
        next();
      });
      app.use((_req: unknown, res: { status(code: number): { json(body: unknown): void } }) => res.status(404).json({ error: 'no such page' }));
      const micro = expressMicro(app, { serviceName, host: '127.0.0.1', secret: SECRET, pingInterval: 100, logger: false, peers });
      const server = await new Promise<Server>((resolve) => {
        const listening: Server = app.listen(0, '127.0.0.1', () => resolve(listening));
      });
      track(micro, server);
      let pings = 0;
      server.prependListener('request', (req) => req.url === '/_discovery/ping' && pings++);
      return Object.assign(micro, { pings: () => pings });
    };
    const seed = await make('limited-seed', []);
    const joiner = await make('limited-joiner', [seed.url as string]);
    await waitFor(() => upInstances(joiner, 'limited-seed').length === 1 && upInstances(seed, 'limited-joiner').length === 1, 'joined');
    // Ten pings later both are still UP: discovery never met the limiter.
    let downs = 0;
    joiner.on('down', () => downs++);
    seed.on('down', () => downs++);
    const before = seed.pings();
    await waitFor(() => seed.pings() >= before + 10, 'ten more pings at the seed');
    expect(downs).toBe(0);
    expect(upInstances(joiner, 'limited-seed')).toHaveLength(1);
    expect(logged.filter((line) => line.includes('/_discovery'))).toEqual([]);
    // The app's own routes still go through its middleware: the limiter and then the 404.
    const answers: number[] = [];
    for (let index = 0; index < 5; index++) answers.push((await fetch(`${seed.url}/anything`)).status);
    expect(answers).toEqual([404, 404, 404, 429, 429]);
    expect(limited).toBe(2);
    // A path under /_discovery that is not an endpoint goes on to the app.
    expect((await fetch(`${seed.url}/_discovery/nothing-here`)).status).toBe(429);
  });
});

describe('ready', () => {
  it('resolves once the app listens and the first join round is over', async () => {
    const seed = await startService('ready-seed');
    const joiner = await startService('ready-joiner', () => {}, { peers: [seed.url] });
    await joiner.micro.ready;
    expect(upInstances(joiner.micro, 'ready-seed')).toEqual([seed.url]);
  });

  it('rejects with a clear message when the app does not listen within 5 s, and nobody has to await it', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const unawaited = expressMicro(express5(), { serviceName: 'unawaited', host: '127.0.0.1', secret: SECRET, logger: false });
      const micro = expressMicro(express5(), { serviceName: 'never-listens', host: '127.0.0.1', secret: SECRET, logger: false });
      cleanups.push(() => micro.close(), () => unawaited.close());
      const started = Date.now();
      const error = await micro.ready.then(() => undefined, (reason: unknown) => reason);
      expect(error).toBeInstanceOf(expressMicro.ExpressMicroError);
      expect((error as Error).message).toBe(
        'express-micro: never-listens is not listening 5000 ms after expressMicro(): await micro.ready after app.listen(), or give the `port` option when the app is served another way',
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(4900);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  }, 15_000);
});

describe('the default service name', () => {
  it('is npm_package_name without its @scope/, as `npm start` sets it', async () => {
    const before = process.env.npm_package_name;
    process.env.npm_package_name = '@acme/order-service';
    try {
      const app = express5();
      const micro = expressMicro(app, { host: '127.0.0.1', secret: SECRET, logger: false });
      const server: Server = app.listen(0, '127.0.0.1');
      track(micro, server);
      await waitFor(() => micro.url !== undefined, 'started');
      expect(micro.peers().find((peer) => peer.self)?.service).toBe('order-service');
    } finally {
      if (before === undefined) delete process.env.npm_package_name;
      else process.env.npm_package_name = before;
    }
  });
});

describe('logging', () => {
  it('says where the instance is reachable, and each UP and DOWN once, with the way back UP', async () => {
    const log = recordingLogger();
    const peer = await spawnService('logged-peer');
    cleanups.push(() => killAll());
    const watcher = await startService('log-watcher', () => {}, { peers: [peer.url], logger: log.logger });
    expect(log.lines).toContain(`info express-micro: log-watcher is reachable at ${watcher.url} (what peers are told)`);
    await waitFor(() => log.lines.includes(`info express-micro: logged-peer at ${peer.url} is UP`), 'UP logged');

    // A crash (no leave message): DOWN is warned once; a new process on the same port is UP again.
    await peer.kill();
    await waitFor(() => log.lines.some((line) => line.startsWith(`warn express-micro: logged-peer at ${peer.url} is DOWN`)), 'DOWN warned');
    await spawnService('logged-peer', {}, peer.port);
    await waitFor(() => log.lines.filter((line) => line === `info express-micro: logged-peer at ${peer.url} is UP`).length === 2, 'UP again logged');
    expect(log.lines.filter((line) => line.startsWith('warn') && line.includes('is DOWN'))).toHaveLength(1);
    expect(log.lines.join('\n')).not.toContain(SECRET);
  }, 20_000);
});
