/**
 * The built bin (dist/cli.js; `npm run build` first) under Node, Bun (`bunx express-micro`) and
 * Deno (`deno run -A npm:express-micro`) against a real cluster, and stopping `watch` with a
 * real SIGINT. Node-only: it spawns the other runtimes itself.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/cli/cluster-view.ts';
import { SECRET, stopAll, waitFor } from '../helpers.ts';
import { ROOT, startCluster, type TestCluster } from './support.ts';

const BIN = join(ROOT, 'dist/cli.js');
const RUNTIMES: Record<string, [string, string[]]> = {
  node: [process.execPath, [BIN]],
  bun: [join(ROOT, 'node_modules/.bin/bun'), [BIN]],
  deno: [join(ROOT, 'node_modules/.bin/deno'), ['run', '-A', BIN]],
};

interface Spawned {
  code: number | null;
  out: string;
  err: string;
}

/** Runs the bin in `runtime`; `whileRunning` gets the output so far and may signal the process. */
function run(runtime: string, args: string[], whileRunning?: (output: () => Spawned, kill: (signal: NodeJS.Signals) => void) => Promise<void>): Promise<Spawned> {
  const [command, prefix] = RUNTIMES[runtime] as [string, string[]];
  const child = spawn(command, [...prefix, ...args], { cwd: ROOT, env: { ...process.env, EXPRESS_DISCOVERY_KEY: SECRET, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const result: Spawned = { code: null, out: '', err: '' };
  child.stdout.on('data', (chunk: Buffer) => (result.out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (result.err += chunk.toString()));
  const exited = new Promise<Spawned>((resolve) => child.once('close', (code) => resolve({ ...result, code })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return (async () => {
    if (whileRunning) await whileRunning(() => result, (signal) => child.kill(signal));
    const done = await exited;
    clearTimeout(timer);
    return done;
  })();
}

describe('the built bin under each runtime', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 30_000);
  afterAll(stopAll);

  it.each(['node', 'bun', 'deno'])('%s: status --json and call answer as in-process', async (runtime) => {
    const status = await run(runtime, ['status', '--peer', cluster.users.url, '--json']);
    expect(status.err).toBe('');
    expect(status.code).toBe(0);
    const view = JSON.parse(status.out) as ClusterView;
    expect(view.rows.map((row) => [row.service, row.url, row.status])).toEqual([
      ['order-service', cluster.orders.url, 'UP'],
      ['user-service', cluster.users.url, 'UP'],
    ]);
    expect(await run(runtime, ['call', '--peer', cluster.orders.url, 'userService', 'getUser', '{"id":7}'])).toEqual({ code: 0, out: '{\n  "id": "7",\n  "query": {}\n}\n', err: '' });
    const missing = await run(runtime, ['call', '--peer', cluster.orders.url, 'userService', 'getUser', '{"id":404}']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^express-micro call: RemoteError: user-service\.getUser got 404 from .*\n$/);
  }, 60_000);

  it.each(['node', 'bun', 'deno'])('%s: watch stops on SIGINT with exit code 0', async (runtime) => {
    const stopped = await run(runtime, ['watch', '--peer', cluster.users.url, '--interval', '100'], async (output, kill) => {
      await waitFor(() => output().out.includes('2 services, 2 instances: 2 UP\n'), 'the table', 20_000);
      kill('SIGINT');
    });
    expect(stopped).toEqual({ code: 0, out: expect.stringMatching(/^SERVICE +INSTANCE/), err: '' });
  }, 60_000);
});
