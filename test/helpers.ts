import express from 'express';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import expressMicro from '../src/index.ts';
import type { ExpressMicro, ExpressMicroOptions, Logger } from '../src/index.ts';
import { waitFor } from './support/conditions.ts';

export { upInstances, waitFor } from './support/conditions.ts';

/** The secret every test cluster shares, so tests never touch the temp-dir secret file. */
export const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export interface TestService {
  app: express.Express;
  server: Server;
  micro: ExpressMicro;
  url: string;
  port: number;
  stop(): Promise<void>;
}

const running = new Set<TestService>();

/** Starts a real Express app on 127.0.0.1, port 0, with express-micro on it. */
export async function startService(
  serviceName: string,
  define: (app: express.Express, micro: ExpressMicro) => void = () => {},
  options: ExpressMicroOptions = {},
  port = 0,
): Promise<TestService> {
  const app = express();
  const micro = expressMicro(app, { serviceName, host: '127.0.0.1', secret: SECRET, pingInterval: 200, logger: false, ...options });
  define(app, micro);
  const server = await new Promise<Server>((resolve, reject) => {
    const listening: Server = app.listen(port, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  const actual = (server.address() as AddressInfo).port;
  await waitFor(() => micro.url !== undefined, 'micro started');
  const service: TestService = {
    app,
    server,
    micro,
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    async stop() {
      running.delete(service);
      await micro.close();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  running.add(service);
  return service;
}

/** Stops every service a test started; call from afterEach. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((service) => service.stop()));
}

/** A discovery request straight to a service, as an attacker or a test would send it. */
export function discovery(url: string, path: string, init: RequestInit & { bearer?: string | false } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.bearer !== false) headers.set('authorization', `Bearer ${init.bearer ?? SECRET}`);
  return fetch(`${url}/_discovery${path}`, { ...init, headers });
}

export interface ChildService {
  url: string;
  port: number;
  child: ChildProcess;
  /** SIGKILL: the process dies without a leave message, as in a crash. */
  kill(): Promise<void>;
}

const children = new Set<ChildService>();
const FIXTURE = fileURLToPath(new URL('./fixtures/service.mjs', import.meta.url));

/**
 * Starts a service in its own process from the built package (`npm run build` first), so that a
 * test can kill it for real. It serves `GET /users/:id` and `GET /whoami`; another `fixture`
 * (a file in test/fixtures/, same READY protocol) serves what it says; `env` adds to its environment.
 */
export async function spawnService(serviceName: string, options: Record<string, unknown> = {}, port = 0, fixture = 'service.mjs', env: Record<string, string> = {}): Promise<ChildService> {
  const child = spawn(process.execPath, [fixture === 'service.mjs' ? FIXTURE : fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url))], {
    env: { ...process.env, ...env, EXPRESS_DISCOVERY_KEY: '', FIXTURE_OPTIONS: JSON.stringify({ serviceName, host: '127.0.0.1', secret: SECRET, pingInterval: 200, logger: false, ...options }), FIXTURE_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const actual = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${serviceName} did not start: ${output}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /READY (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`${serviceName} exited with ${code}: ${output}`)));
  });
  const service: ChildService = {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    child,
    async kill() {
      children.delete(service);
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    },
  };
  children.add(service);
  return service;
}

/**
 * Sends SIGTERM and resolves with how the process ended: the code it exited with by itself (from
 * the fixture's "EXIT <code>" line, since Deno's child_process reports the signal it sent
 * instead), else the signal that ended it. Fails after `bound` ms.
 */
export function terminate(service: ChildService, bound = 15_000): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    let said: number | undefined;
    const listen = (chunk: Buffer) => {
      const match = /EXIT (\d+)/.exec(chunk.toString());
      if (match) said = Number(match[1]);
    };
    service.child.stdout?.on('data', listen);
    const timer = setTimeout(() => reject(new Error(`${service.url} did not exit within ${bound} ms of SIGTERM`)), bound);
    service.child.once('exit', (code, signal) => {
      clearTimeout(timer);
      service.child.stdout?.off('data', listen);
      resolve(said === undefined ? { code, signal } : { code: said, signal: null });
    });
    service.child.kill('SIGTERM');
  });
}

/** Kills every child a test spawned; call from afterEach. */
export async function killAll(): Promise<void> {
  await Promise.all([...children].map((child) => child.kill()));
}

/** A logger that records every line at every level. */
export function recordingLogger(): { lines: string[]; logger: Required<Logger> } {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      debug: (message) => lines.push(`debug ${message}`),
      info: (message) => lines.push(`info ${message}`),
      warn: (message) => lines.push(`warn ${message}`),
      error: (message) => lines.push(`error ${message}`),
    },
  };
}
