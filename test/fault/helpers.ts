import express from 'express';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import expressMicro from '../../src/index.ts';
import type { ExpressMicro, ExpressMicroOptions } from '../../src/index.ts';
import { SECRET, waitFor, type TestService } from '../helpers.ts';

/** An in-process service started by the fault suite; unlike test/helpers' startService it can
 * put middleware in front of the plugin and listen on ::1 or a mapped IPv4 address. */
export type FaultService = TestService;

const running = new Set<FaultService>();

export interface StartOptions {
  /** Runs on the app BEFORE expressMicro() is called (the app's own middleware, which /_discovery skips). */
  before?: (app: express.Express) => void;
  /**
   * Runs in front of everything, /_discovery included, on the raw request (as a proxy or a broken
   * network would): `req.url` is the full path, Express's `req.path` and `req.ip` are not set yet.
   */
  front?: (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
  /** Runs on the app after expressMicro() (the app's own routes). */
  define?: (app: express.Express, micro: ExpressMicro) => void;
  options?: ExpressMicroOptions;
  /** The address to listen on: 127.0.0.1 (default), ::1 or ::ffff:127.0.0.1, never anything else. */
  listenOn?: '127.0.0.1' | '::1' | '::ffff:127.0.0.1';
  port?: number;
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts a real Express app with express-micro on a loopback address, port 0 by default. */
export async function startApp(serviceName: string, start: StartOptions = {}): Promise<FaultService> {
  const listenOn = start.listenOn ?? '127.0.0.1';
  // Peers reach a service listening on the mapped address through plain 127.0.0.1.
  const host = listenOn === '::1' ? '::1' : '127.0.0.1';
  const app = express();
  start.before?.(app);
  const micro = expressMicro(app, { serviceName, host, secret: SECRET, pingInterval: 200, logger: false, ...start.options });
  start.define?.(app, micro);
  const front = start.front;
  if (front) {
    // app.handle is Express's entry for every request; @types/express does not declare it.
    const handled = app as unknown as { handle: (this: unknown, ...args: unknown[]) => unknown };
    const inner = handled.handle;
    handled.handle = function handleBehindFront(this: unknown, req: IncomingMessage, res: ServerResponse, callback?: unknown) {
      front(req, res, () => inner.call(this, req, res, callback));
    } as typeof inner;
  }
  const server = await new Promise<Server>((resolve, reject) => {
    const listening: Server = app.listen(start.port ?? 0, listenOn, (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  const port = (server.address() as AddressInfo).port;
  await waitFor(() => micro.url !== undefined, `${serviceName} started`);
  const service: FaultService = {
    app,
    server,
    micro,
    url: `http://${bracket(host)}:${port}`,
    port,
    async stop() {
      if (!running.delete(service)) return;
      await micro.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  running.add(service);
  return service;
}

/** Stops every service startApp() started; call from afterEach/afterAll. */
export async function stopApps(): Promise<void> {
  await Promise.all([...running].map((service) => service.stop()));
}

/** How many active resources of each type keep this process alive (sockets, servers, timers…). */
export function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** The number of open connections a server holds, from the server side. */
export function connectionsOf(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

/** Whether this machine can listen on the IPv6 loopback. */
export async function hasIpv6Loopback(): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}
