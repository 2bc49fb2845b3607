/**
 * Shared by the command-line tests of status, watch and call: running a command in-process (its
 * real code, given buffers instead of the process's streams), a small real cluster, an instance
 * that can go silent without leaving (so the others see it DOWN), an address nothing answers, and
 * a temp folder inside the repo (test/types uses these too).
 */
import express from 'express';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import expressMicro, { type ExpressMicro, type ExpressMicroOptions } from '../../src/index.ts';
import { SECRET, startService, waitFor, type TestService } from '../helpers.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What one command line did. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** A fresh folder under .tmp/ (gitignored, inside the repo so files there resolve node_modules), removed by the returned function. */
export function tempFolder(prefix: string): { path: string; remove: () => void } {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const path = mkdtempSync(join(ROOT, '.tmp', `${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** How to run it: a stop signal, a pretend terminal, and a view of the output as it comes. */
export interface RunSettings {
  signal?: AbortSignal;
  isTerminal?: boolean;
  columns?: number;
  /** Receives stdout and stderr so far after each write. */
  onOutput?: (run: CliRun) => void;
}

/** Runs `express-micro <argv>` in this process. */
export async function runCli(argv: string[], settings: RunSettings = {}): Promise<CliRun> {
  const run: CliRun = { code: -1, out: '', err: '' };
  const code = await main(argv, {
    cwd: ROOT,
    out: (text) => {
      run.out += text;
      settings.onOutput?.(run);
    },
    error: (text) => {
      run.err += text;
      settings.onOutput?.(run);
    },
    signal: settings.signal,
    isTerminal: settings.isTerminal,
    columns: settings.columns,
  });
  run.code = code;
  return run;
}

/** A cluster of two services; user-service is the seed and has a route of each kind. */
export interface TestCluster {
  users: TestService;
  orders: TestService;
}

/** Starts user-service and order-service (each knowing the other UP), with `options` on both. */
export async function startCluster(options: ExpressMicroOptions = {}): Promise<TestCluster> {
  const users = await startService(
    'user-service',
    (app) => {
      app.get('/users/:id', (req, res) => {
        if (req.params.id === '404') {
          res.status(404).json({ error: 'no such user', id: req.params.id });
          return;
        }
        res.json({ id: req.params.id, query: req.query });
      });
      app.post('/users', express.json(), (req, res) => res.status(201).json({ created: req.body }));
      app.get('/motto', function motto(req, res) {
        res.type('text/plain').send('small services, called by name');
      });
    },
    options,
  );
  const orders = await startService('order-service', (app) => app.get('/orders/:userId', (req, res) => res.json([{ userId: req.params.userId }])), { ...options, peers: [users.url] });
  await waitFor(() => users.micro.peers().some((peer) => peer.service === 'order-service' && peer.status === 'UP'), 'user-service sees order-service UP', 10_000);
  await waitFor(() => orders.micro.peers().some((peer) => peer.service === 'user-service' && peer.status === 'UP'), 'order-service sees user-service UP', 10_000);
  return { users, orders };
}

/** An instance whose HTTP server can go away without the plugin leaving: its peers see it DOWN. */
export interface SilentCapable {
  micro: ExpressMicro;
  url: string;
  /** Closes the HTTP server only: no leave message, probes fail. */
  silence(): Promise<void>;
  /** Closes everything. */
  stop(): Promise<void>;
}

/** Starts one (the server is not made by app.listen, so closing it does not close the plugin). */
export async function startSilenceable(serviceName: string, peers: string[], options: ExpressMicroOptions = {}, port?: number): Promise<SilentCapable> {
  const app = express();
  app.get('/ping-me', (_req, res) => res.json({ ok: true }));
  port ??= await freePort();
  const micro = expressMicro(app, { serviceName, host: '127.0.0.1', port, peers, secret: SECRET, pingInterval: 200, logger: false, ...options });
  let server: Server | undefined = await new Promise<Server>((resolve) => {
    const listening = createServer(app).listen(port, '127.0.0.1', () => resolve(listening));
  });
  const silence = async (): Promise<void> => {
    const closing = server;
    server = undefined;
    if (closing === undefined) return;
    closing.closeAllConnections();
    await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  return { micro, url: `http://127.0.0.1:${port}`, silence, stop: async () => (await micro.close(), await silence()) };
}

/** A port that was free a moment ago: bound on 127.0.0.1 and closed again. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Whether `port` can be bound on 127.0.0.1 now (it is closed again at once). */
async function isFree(port: number): Promise<boolean> {
  const probe = createServer();
  const bound = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (bound) await new Promise<void>((resolve) => probe.close(() => resolve()));
  return bound;
}

/**
 * A free port whose URL sorts before `url`'s (so that instance is listed, and tried, first).
 * Ports the kernel hands out for port 0 start at 32768, so one that sorts before them is looked
 * for below that, where nothing else in the tests binds (a port 0 pick rarely sorted before:
 * 50 tries failed in a CI run).
 */
export async function freePortBefore(url: string): Promise<number> {
  const start = 10_000 + Math.floor(Math.random() * 20_000);
  for (let offset = 0; offset < 200; offset++) {
    const port = start + offset;
    if (`http://127.0.0.1:${port}` < url && (await isFree(port))) return port;
  }
  throw new Error(`no free port sorts before ${url}`);
}

/** The URL of a port nothing listens on. */
export async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}
