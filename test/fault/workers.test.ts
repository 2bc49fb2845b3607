/**
 * Several workers on one port (docs/ARCHITECTURE.md, "Several workers on one port"): a
 * node:cluster primary, as PM2's cluster mode runs an app, forks two workers that share one port,
 * each running express-micro with HMAC and requireSignature(). A caller under load must see one
 * instance with one id at that URL the whole time, and lose no call while one worker is killed
 * (SIGKILL, then re-forked by the primary) and another is stopped gracefully (SIGTERM: close()).
 * Before workers shared an id, the caller's row flipped between the workers' ids every few
 * seconds and about a third of the signed calls got 401.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { InstanceInfo } from '../../src/index.ts';
import { SECRET, waitFor } from '../helpers.ts';
import { startApp, stopApps } from './helpers.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/workers.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = (name: string) => join(ROOT, 'node_modules', '.bin', name);
const IN_FLIGHT = 8;
type Runtime = 'node' | 'bun' | 'deno';
// Deno: a cluster primary forks (run) copies of itself that need what a member needs.
const COMMANDS: Record<Runtime, [string, string[]]> = {
  node: [process.execPath, [FIXTURE]],
  bun: [BIN('bun'), [FIXTURE]],
  deno: [BIN('deno'), ['run', '--allow-net=127.0.0.1', '--allow-env', `--allow-read=${ROOT}`, '--allow-run', FIXTURE]],
};
let primary: ChildProcess | undefined;

afterEach(async () => {
  await stopApps();
  if (primary && primary.exitCode === null && primary.signalCode === null) {
    const exited = new Promise((resolve) => primary?.once('exit', resolve));
    primary.kill('SIGTERM');
    await exited;
  }
});

/**
 * Starts the primary; `workers` lists every worker that has listened, in order, by pid, and
 * `exits` each worker's exit code by pid.
 */
async function startWorkers(runtime: Runtime, options: Record<string, unknown>): Promise<{ workers: number[]; exits: Map<number, number | null>; port: () => number }> {
  const [command, args] = COMMANDS[runtime];
  // Workers share a port they ask for by number (port 0 would give each its own on Bun): a free
  // one, found by listening on 0 and letting it go.
  const probe = createServer();
  const free = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port)));
  await new Promise((resolve) => probe.close(resolve));
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, EXPRESS_DISCOVERY_KEY: '', FIXTURE_PORT: String(free), FIXTURE_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  primary = child;
  const workers: number[] = [];
  const exits = new Map<number, number | null>();
  let port = 0;
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    let newline: number;
    while ((newline = output.indexOf('\n')) >= 0) {
      const line = output.slice(0, newline);
      output = output.slice(newline + 1);
      const exited = /^EXITED (\d+) (\d+|null)$/.exec(line);
      if (exited) exits.set(Number(exited[1]), exited[2] === 'null' ? null : Number(exited[2]));
      const match = /^WORKER (\d+) (\d+)$/.exec(line);
      if (!match) continue;
      workers.push(Number(match[1]));
      port = Number(match[2]);
    }
  });
  return { workers, exits, port: () => port };
}

describe.each(['node', 'bun', 'deno'] as const)('node:cluster workers on one port, on %s', (runtime) => {
  it('are one instance with one id, and lose no signed call while a worker is killed, re-forked, or stopped', async () => {
    const group = await startWorkers(runtime, { serviceName: 'user-service', host: '127.0.0.1', secret: SECRET, pingInterval: 200, logger: false, enableHmac: true });
    await waitFor(() => group.workers.length >= 2, 'two workers listening', 15_000);
    const url = `http://127.0.0.1:${group.port()}`;
    const caller = await startApp('order-service', { options: { enableHmac: true, peers: [url] } });

    // Every id the caller's table ever held at that URL, and every event that took one away.
    const ids = new Set<string>();
    const lost: string[] = [];
    const note = (instance: InstanceInfo) => instance.url === url && ids.add(instance.id);
    caller.micro.on('discovered', note);
    caller.micro.on('up', note);
    for (const event of ['down', 'removed'] as const) caller.micro.on(event, (instance) => instance.url === url && lost.push(`${event} ${instance.id}`));
    const rows = () => caller.micro.peers().filter((peer) => peer.service === 'user-service');
    await waitFor(() => rows().some((peer) => peer.url === url && peer.status === 'UP'), 'the caller sees user-service UP', 10_000);

    const failures: string[] = [];
    const answeredBy = new Map<number, number>();
    const rowCounts = new Set<number>();
    let calls = 0;
    let running = true;
    const bound = Date.now() + 60_000;
    const worker = async (): Promise<void> => {
      while (running && Date.now() < bound && calls < 100_000) {
        calls++;
        try {
          const answer = (await caller.micro.services.userService.getUser({ id: calls })) as { pid: number };
          answeredBy.set(answer.pid, (answeredBy.get(answer.pid) ?? 0) + 1);
        } catch (error) {
          failures.push(`${(error as Error).name}: ${(error as Error).message}`);
        }
        rowCounts.add(rows().length);
      }
    };
    const load = Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const answers = (pid: number) => answeredBy.get(pid) ?? 0;
    try {
      const [first, second] = group.workers as [number, number];
      await waitFor(() => answers(first) >= 100 && answers(second) >= 100, 'both workers answer signed calls', 15_000);

      // A crash: the primary re-forks. The caller's keep-alive connections now all lead to the
      // survivor, so the new worker may get none yet.
      process.kill(first, 'SIGKILL');
      await waitFor(() => group.workers.length >= 3, 'the primary re-forks the killed worker', 15_000);
      const reforked = group.workers[2] as number;
      const before = calls;
      await waitFor(() => calls >= before + 300, '300 more calls', 15_000);

      // A graceful stop of the survivor (as pm2 reload does): its siblings still serve the
      // address, so it does not tell the cluster that the instance left; new connections reach
      // the re-forked worker, which accepts the same signatures.
      process.kill(second, 'SIGTERM');
      await waitFor(() => group.workers.length >= 4, 'the primary re-forks the stopped worker', 15_000);
      const stopped = calls;
      await waitFor(() => calls >= stopped + 300, '300 more calls after the stop', 15_000);
      expect(answers(reforked) + answers(group.workers[3] as number)).toBeGreaterThan(0);
    } finally {
      running = false;
      await load;
    }

    console.info(`workers on ${runtime}: ${calls} calls, answered by ${JSON.stringify(Object.fromEntries(answeredBy))}, ${failures.length} failed; ids at ${url}: ${[...ids].join(', ')}`);
    expect(failures.slice(0, 10)).toEqual([]);
    expect([...ids]).toHaveLength(1);
    expect(lost).toEqual([]);
    expect([...rowCounts]).toEqual([1]);
    expect(rows().map((peer) => [peer.id, peer.url, peer.status])).toEqual([[[...ids][0], url, 'UP']]);
  }, 120_000);

  it('with drain, a worker stopped by SIGTERM hands its share to its siblings and exits 0 long before the timeout; no GET or POST is lost', async () => {
    // The timeout is the bound a stuck drain would hit: its exit code would then be 1. Beside the
    // caller's keep-alive calls, a client that opens a new connection per request (as a load
    // balancer in front of the workers may): while the worker still took connections, the
    // primary kept handing it a share of those, and it never saw the quiet moment it waits for.
    // Node only: on Bun and Deno a worker does not stop taking connections (README, "Several
    // workers on one port"), so such a client would keep it busy until its timeout; there the
    // callers' keep-alive connections alone must move off.
    const group = await startWorkers(runtime, { serviceName: 'user-service', host: '127.0.0.1', secret: SECRET, pingInterval: 200, logger: false, drain: { timeout: 8000 } });
    await waitFor(() => group.workers.length >= 2, 'two workers listening', 15_000);
    const url = `http://127.0.0.1:${group.port()}`;
    const caller = await startApp('order-service', { options: { peers: [url] } });
    await waitFor(() => caller.micro.peers().some((peer) => peer.url === url && peer.status === 'UP'), 'the caller sees user-service UP', 10_000);

    const failures: string[] = [];
    const external = { sent: 0, failed: [] as string[] };
    const answeredBy = new Map<number, number>();
    let calls = 0;
    let posts = 0;
    let running = true;
    const bound = Date.now() + 60_000;
    const worker = async (offset: number): Promise<void> => {
      for (let index = offset; running && Date.now() < bound && calls < 100_000; index++) {
        calls++;
        const post = index % 2 === 1;
        try {
          const users = caller.micro.services.userService;
          const answer = (post ? await users.createOrder({ item: index }) : await users.getUser({ id: index })) as { pid: number };
          if (post) posts++;
          answeredBy.set(answer.pid, (answeredBy.get(answer.pid) ?? 0) + 1);
        } catch (error) {
          failures.push(`${post ? 'POST' : 'GET'} ${(error as Error).name}: ${(error as Error).message}`);
        }
      }
    };
    const fresh = async (): Promise<void> => {
      while (running && Date.now() < bound && external.sent < 20_000) {
        external.sent++;
        await new Promise<void>((resolve) => {
          // agent: false: a connection of its own, closed after the answer. Bounded: a request
          // left unanswered is a failure, not a hung test.
          let settled = false;
          const settle = (failure?: string): void => {
            if (settled) return;
            settled = true;
            if (failure !== undefined) external.failed.push(failure);
            resolve();
          };
          const request = get(`${url}/users/${external.sent}`, { agent: false, timeout: 5000 }, (response) => {
            response.on('error', (error) => settle(error.message));
            response.resume().once('end', () => settle(response.statusCode === 200 ? undefined : `status ${response.statusCode}`));
          });
          request.on('timeout', () => request.destroy(new Error('no answer within 5 s')));
          request.on('error', (error) => settle(error.message));
        });
      }
    };
    const clients = runtime === 'node' ? [fresh(), fresh()] : [];
    const load = Promise.all([...Array.from({ length: IN_FLIGHT }, (_, offset) => worker(offset)), ...clients]);
    const drained: number[] = [];
    try {
      const [first, second] = group.workers as [number, number];
      await waitFor(() => (answeredBy.get(first) ?? 0) >= 50 && (answeredBy.get(second) ?? 0) >= 50, 'both workers answer', 15_000);
      for (const [turn, pid] of [first, second].entries()) {
        const signalled = Date.now();
        process.kill(pid, 'SIGTERM');
        await waitFor(() => group.exits.has(pid), `worker ${pid} exits after SIGTERM`, 15_000);
        drained.push(Date.now() - signalled);
        expect(group.exits.get(pid), `worker ${pid} drained (exit 0), not cut off at the timeout (exit 1)`).toBe(0);
        await waitFor(() => group.workers.length >= 3 + turn, 'the primary re-forks it', 15_000);
        const before = calls;
        await waitFor(() => calls >= before + 300, '300 more calls', 15_000);
      }
    } finally {
      running = false;
      await load;
    }
    console.info(
      `workers with drain on ${runtime}: ${calls} calls (${posts} POSTs), ${failures.length} failed; ${external.sent} requests on fresh connections, ${external.failed.length} failed` +
        `${external.failed.length > 0 ? ` (${[...new Set(external.failed)].join(', ')})` : ''}; drained in ${drained.join(' and ')} ms (timeout 8000)`,
    );
    expect(failures.slice(0, 10)).toEqual([]);
    expect(posts).toBeGreaterThan(300);
    expect(external.failed).toEqual([]);
  }, 120_000);
});
