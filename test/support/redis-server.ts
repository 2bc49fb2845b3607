/**
 * A real redis-server for the durable events tests, on every runtime (node:child_process, which
 * Bun and Deno provide): 127.0.0.1, a free port, data in a temp folder, killed and removed after.
 * Debian's `redis-server` gives the binary (`.ci/run` installs it); without it the tests skip with
 * one line, and fail under CI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { freePort } from './etcd.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function findRedis(): string | undefined {
  for (const candidate of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) if (existsSync(candidate)) return candidate;
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout?.trim();
  return found ? found : undefined;
}

/** The redis-server binary, or undefined. */
export const REDIS_SERVER: string | undefined = findRedis();

/** Why the Redis tests cannot run here (one line), or undefined when they can. Under CI a missing redis-server is a failure. */
export function redisMissing(): string | undefined {
  if (REDIS_SERVER) return undefined;
  const line = 'redis events tests skipped: no redis-server binary (apt-get install redis-server)';
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${line}; CI is set, so this is a failure`);
  return line;
}

/** One redis-server process, restartable on the same port and folder. */
export class RedisServer {
  readonly port: number;
  readonly #dir: string;
  readonly #persistent: boolean;
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string, persistent: boolean) {
    this.port = port;
    this.#dir = dir;
    this.#persistent = persistent;
  }

  /**
   * Starts a server and waits until it accepts connections. `persistent`: an append-only file
   * fsynced on every write (`--appendonly yes --appendfsync always`), so that a SIGKILL and a
   * restart lose nothing; else no persistence at all.
   */
  static async start(persistent = true): Promise<RedisServer> {
    if (!REDIS_SERVER) throw new Error('no redis-server binary');
    const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), 'em-redis-')), persistent);
    await server.restart();
    return server;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Whether the process runs. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** (Re)starts the process on the same port and folder; resolves once it is ready (its data loaded). */
  async restart(): Promise<void> {
    if (this.#child) return;
    const persistence = this.#persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const child = spawn(REDIS_SERVER as string, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', this.#dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s: ${output.slice(-500)}`)), 10_000);
      const listen = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', listen);
      child.stderr?.on('data', listen);
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (this.#child === child) this.#child = undefined;
        reject(new Error(`redis-server exited with ${code}: ${output.slice(-500)}`));
      });
    });
  }

  /** SIGKILL, as a crash: with `persistent`, every acknowledged write is on disk already. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Kills the process and removes its folder. */
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
