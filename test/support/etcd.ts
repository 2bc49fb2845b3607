/**
 * Real etcd members for the registry tests, on every runtime (node:child_process, which Bun and
 * Deno provide): loopback ports, data in a temp folder, stopped after. Debian's `etcd-server`
 * gives the binary; without it the tests skip with one line, and fail under CI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { request } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './conditions.ts';

function findEtcd(): string | undefined {
  for (const candidate of ['/usr/bin/etcd', '/usr/local/bin/etcd']) if (existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const found = which.stdout?.trim();
  return found ? found : undefined;
}

/** The etcd binary, or undefined. */
export const ETCD: string | undefined = findEtcd();

/**
 * Why the etcd tests cannot run here (one line), or undefined when they can. Under CI a missing
 * etcd is a failure, not a skip: `.ci/run` installs it.
 */
export function etcdMissing(): string | undefined {
  if (ETCD) return undefined;
  const line = 'etcd tests skipped: no etcd binary (apt-get install etcd-server)';
  if (process.env.CI === 'true') throw new Error(`${line}; CI=true, so this is a failure`);
  return line;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One POST to etcd's JSON gateway; the parsed answer. */
export async function etcdCall(endpoint: string, path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = token;
  const response = await fetch(endpoint + path, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(3000) });
  return (await response.json()) as Record<string, unknown>;
}

/** base64 of UTF-8 text, as the gateway wants keys and values. */
export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Every key under `prefix`, decoded. */
export async function etcdKeys(endpoint: string, prefix: string, token?: string): Promise<string[]> {
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const answer = await etcdCall(endpoint, '/v3/kv/range', { key: b64(prefix), range_end: b64(end), keys_only: true }, token);
  return ((answer.kvs as { key: string }[] | undefined) ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString('utf8'));
}

/** PEM material for an etcd that serves its clients over mutual TLS. */
export interface EtcdTls {
  ca: string;
  cert: string;
  key: string;
}

/** One POST over mutual TLS, for the health check of a TLS etcd. */
function postOverTls(endpoint: string, path: string, body: unknown, tls: EtcdTls): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = request(endpoint + path, { method: 'POST', ...tls, timeout: 3000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    sent.on('timeout', () => sent.destroy(new Error('timeout')));
    sent.on('error', reject);
    sent.end(JSON.stringify(body));
  });
}

interface Member {
  name: string;
  client: number;
  peer: number;
  process: ChildProcess | undefined;
}

/** A one- or three-member etcd cluster of real processes. */
export class EtcdCluster {
  readonly #dir: string;
  readonly #members: Member[];
  readonly #token = `t${Math.random().toString(16).slice(2)}`;
  readonly #tls: EtcdTls | undefined;

  private constructor(dir: string, members: Member[], tls: EtcdTls | undefined) {
    this.#dir = dir;
    this.#members = members;
    this.#tls = tls;
  }

  /**
   * Starts `size` members and waits until the cluster serves reads (a leader is elected). With
   * `tls`, clients are served over HTTPS and must present a certificate from its CA.
   */
  static async start(size = 1, tls?: EtcdTls): Promise<EtcdCluster> {
    if (!ETCD) throw new Error('no etcd binary');
    const dir = mkdtempSync(join(tmpdir(), 'em-etcd-'));
    const members: Member[] = [];
    for (let index = 0; index < size; index++) members.push({ name: `m${index}`, client: await freePort(), peer: await freePort(), process: undefined });
    if (tls) for (const [name, pem] of Object.entries(tls)) writeFileSync(join(dir, `${name}.pem`), pem);
    const cluster = new EtcdCluster(dir, members, tls);
    for (let index = 0; index < size; index++) cluster.#spawn(index);
    await cluster.healthy();
    return cluster;
  }

  /** Client URLs, one per member. */
  get endpoints(): string[] {
    return this.#members.map((member) => `${this.#tls ? 'https' : 'http'}://127.0.0.1:${member.client}`);
  }

  #spawn(index: number): void {
    const member = this.#members[index] as Member;
    const initial = this.#members.map((other) => `${other.name}=http://127.0.0.1:${other.peer}`).join(',');
    const args = [
      '--name', member.name,
      '--data-dir', join(this.#dir, member.name),
      '--listen-client-urls', `${this.#tls ? 'https' : 'http'}://127.0.0.1:${member.client}`,
      '--advertise-client-urls', `${this.#tls ? 'https' : 'http'}://127.0.0.1:${member.client}`,
      ...(this.#tls
        ? ['--cert-file', join(this.#dir, 'cert.pem'), '--key-file', join(this.#dir, 'key.pem'), '--trusted-ca-file', join(this.#dir, 'ca.pem'), '--client-cert-auth']
        : []),
      '--listen-peer-urls', `http://127.0.0.1:${member.peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${member.peer}`,
      '--initial-cluster', initial,
      '--initial-cluster-token', this.#token,
      '--initial-cluster-state', 'new',
      '--heartbeat-interval', '100',
      '--election-timeout', '1000',
      '--log-level', 'error',
    ];
    const child = spawn(ETCD as string, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr?.on('data', (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-2000)));
    child.once('exit', (code, signal) => {
      if (member.process === child) member.process = undefined;
      if (code !== 0 && code !== null && signal === null) process.stderr.write(`etcd ${member.name} exited with ${code}: ${errors}\n`);
    });
    member.process = child;
  }

  /** Waits until every running member answers a read (so a leader is elected). */
  async healthy(timeout = 15_000): Promise<void> {
    const running = this.#members.filter((member) => member.process);
    await waitFor(
      async () => {
        const answers = await Promise.all(
          running.map((member) =>
            (this.#tls
              ? postOverTls(`https://127.0.0.1:${member.client}`, '/v3/kv/range', { key: b64('health') }, this.#tls).then((status) => status === 200)
              : etcdCall(`http://127.0.0.1:${member.client}`, '/v3/kv/range', { key: b64('health') }).then((answer) => answer.header !== undefined)
            ).catch(() => false),
          ),
        );
        return answers.every(Boolean);
      },
      'etcd serves reads',
      timeout,
    );
  }

  /** Stops member `index` (SIGKILL by default) and waits for it to exit. */
  async kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#members[index]?.process;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  /** Starts a stopped member again, on its ports and data. */
  restart(index: number): void {
    if (!this.#members[index]?.process) this.#spawn(index);
  }

  /** Stops every member and removes the data. */
  async stop(): Promise<void> {
    await Promise.all(this.#members.map((_, index) => this.kill(index)));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * A pass-through to an etcd endpoint that, while `holding`, forwards each `kv/put` at once but
 * keeps its answer until `release()`: the moment when the others already see a record and its
 * writer has not heard back. Watches and every other request pass straight through.
 */
export class HoldingProxy {
  holding = false;
  #release: () => void = () => {};
  #released: Promise<void> = Promise.resolve();
  readonly #server: Server;
  readonly url: string;

  private constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
  }

  static async start(target: string): Promise<HoldingProxy> {
    let proxy: HoldingProxy | undefined;
    const server = createHttpServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const held = proxy?.holding === true && request.url === '/v3/kv/put' ? proxy.#released : undefined;
        void fetch(`${target}${request.url}`, { method: request.method, headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) })
          .then(async (answer) => {
            if (held) await held;
            response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
            if (answer.body) for await (const chunk of answer.body) response.write(chunk);
            response.end();
          })
          .catch(() => response.destroy());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new HoldingProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  /** From now on, the answers to puts wait for `release()`. */
  hold(): void {
    this.holding = true;
    this.#released = new Promise((resolve) => (this.#release = resolve));
  }

  /** Lets the held answers go, and holds no more. */
  release(): void {
    this.holding = false;
    this.#release();
  }

  async close(): Promise<void> {
    this.release();
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
