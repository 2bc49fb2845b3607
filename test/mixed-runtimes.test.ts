/**
 * A mixed cluster: one member on Node, one on Bun, one on Deno, each a child process running
 * test-deno/mixed-service.mjs against the BUILT package (run `npm run build` first; `npm test`
 * does). Every member must see the other two UP, and every member must call every other one
 * (a GET with a query and a POST with a JSON body) through `services`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVICE = fileURLToPath(new URL('../test-deno/mixed-service.mjs', import.meta.url));
const BIN = (name: string): string => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const SECRET = 'mixed-cluster-secret-0123456789abcdef';

type Runtime = 'node' | 'bun' | 'deno';

interface Member {
  runtime: Runtime;
  name: string;
  url: string;
  child: ChildProcess;
  output: () => string;
}

interface PeerView {
  service: string;
  url: string;
  status: 'UP' | 'DOWN';
  self: boolean;
}

const COMMANDS: Record<Runtime, [string, string[]]> = {
  node: [process.execPath, [SERVICE]],
  bun: [BIN('bun'), [SERVICE]],
  // The narrowest permissions the member needs: loopback only, env for its options and Express,
  // read the repo (node_modules, dist). No write and no sys access: it is given host and secret.
  deno: [BIN('deno'), ['run', '--allow-net=127.0.0.1', '--allow-env', `--allow-read=${ROOT}`, SERVICE]],
};

const members: Member[] = [];

async function start(runtime: Runtime, peers: string[]): Promise<Member> {
  const name = `${runtime}-service`;
  const [command, args] = COMMANDS[runtime];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, EXPRESS_DISCOVERY_KEY: '', NO_COLOR: '1', MIXED_OPTIONS: JSON.stringify({ serviceName: name, secret: SECRET, peers, forgetAfter: 60_000 }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const member: Member = { runtime, name, url: '', child, output: () => output };
  members.push(member);
  const exited = new Promise<never>((_resolve, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output}`))),
  );
  exited.catch(() => {});
  await Promise.race([waitFor(() => /READY \d+/.test(output), `${name} ready (output so far: ${output})`, 30_000), exited]);
  const [, port, reported] = /READY (\d+) (\w+)/.exec(output)!;
  expect(reported, `${name} runs on the runtime it was started with`).toBe(runtime);
  member.url = `http://127.0.0.1:${port}`;
  return member;
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}

async function stop(member: Member): Promise<void> {
  const { child } = member;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

describe('a cluster of one Node, one Bun and one Deno member', () => {
  beforeAll(() => {
    if (!existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)))) {
      throw new Error('dist/ is missing: run `npm run build` before this test (npm test does)');
    }
  });

  afterAll(async () => {
    await Promise.all(members.map(stop));
  });

  it('discovers every member from one seed and calls each from each', { timeout: 60_000 }, async () => {
    const node = await start('node', []);
    const [bun, deno] = await Promise.all([start('bun', [node.url]), start('deno', [node.url])]);
    const all = [node, bun, deno];

    const views = new Map<string, PeerView[]>();
    const seesTheOthersUp = async (member: Member): Promise<boolean> => {
      const { body } = await getJson<PeerView[]>(`${member.url}/mixed/peers`);
      views.set(member.name, body);
      return all
        .filter((other) => other !== member)
        .every((other) => body.some((peer) => peer.service === other.name && peer.url === other.url && peer.status === 'UP' && !peer.self));
    };
    await waitFor(
      async () => (await Promise.all(all.map(seesTheOthersUp))).every(Boolean),
      'every member sees the other two UP',
      15_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\nviews: ${JSON.stringify(Object.fromEntries(views), null, 1)}\n${all.map((m) => `--- ${m.name}\n${m.output()}`).join('\n')}`);
    });

    for (const caller of all) {
      for (const target of all) {
        if (target === caller) continue;
        const { status, body } = await getJson<unknown>(`${caller.url}/mixed/call/${target.name}`);
        expect({ caller: caller.name, target: target.name, status, body }).toEqual({
          caller: caller.name,
          target: target.name,
          status: 200,
          body: {
            who: { service: target.name, runtime: target.runtime, from: caller.name },
            echoed: { service: target.name, runtime: target.runtime, body: { from: caller.name, numbers: [1, 2, 3] } },
          },
        });
      }
    }
  });

  it('lets every member leave cleanly: SIGTERM closes the plugin and the process exits 0', { timeout: 30_000 }, async () => {
    expect(members).toHaveLength(3);
    const [node, bun, deno] = members as [Member, Member, Member];
    const codes = await Promise.all(
      [bun, deno].map(
        (member) =>
          new Promise<number | null>((resolve) => {
            member.child.once('exit', (code) => resolve(code));
            member.child.kill('SIGTERM');
          }),
      ),
    );
    expect(codes).toEqual([0, 0]);
    // They said goodbye: the Node member drops both at once (forgetAfter is a minute, so only a
    // leave message can remove them within the bound).
    await waitFor(async () => (await getJson<PeerView[]>(`${node.url}/mixed/peers`)).body.every((peer) => peer.self), 'node forgot bun and deno', 5000);
  });
});
