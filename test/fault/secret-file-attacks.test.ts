/**
 * Issue 5, point 4: attacks on the shared secret file. With no `secret` option and no
 * EXPRESS_DISCOVERY_KEY, the secret comes from $TMPDIR/express-micro-<uid>.key. TMPDIR points at a
 * fresh folder per test. A symlink planted at the path (to a good-looking file, dangling, to a
 * folder), a file owned by another uid, a file readable or writable by group or others, a folder,
 * a FIFO or a short file: expressMicro() throws an OptionError naming the secret, the path and the
 * reason, and touches nothing. Eight processes released at the same instant race to create the
 * file: it ends as one 0600 secret that all eight use (they accept it, and join each other).
 */
import express from 'express';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import expressMicro from '../../src/index.ts';
import { defaultSecretPath } from '../../src/runtime/index.ts';
import { waitFor } from '../helpers.ts';
import { startApp, stopApps } from './helpers.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('skipped: the file-of-another-uid case; chown to another uid needs root');

const REAL_TMP = tmpdir();
const saved = { TMPDIR: process.env.TMPDIR, KEY: process.env.EXPRESS_DISCOVERY_KEY };
let dir = '';
let path = '';
const GOOD = `${'ab12'.repeat(16)}\n`; // 64 hex characters, as the library writes them

beforeEach(() => {
  dir = mkdtempSync(join(REAL_TMP, 'express-micro-fault-'));
  process.env.TMPDIR = dir;
  delete process.env.EXPRESS_DISCOVERY_KEY;
  path = defaultSecretPath();
});

afterEach(async () => {
  await stopApps();
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  if (saved.TMPDIR === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = saved.TMPDIR;
  if (saved.KEY !== undefined) process.env.EXPRESS_DISCOVERY_KEY = saved.KEY;
  rmSync(dir, { recursive: true, force: true });
});

const plugin = () => expressMicro(express(), { serviceName: 'secretive', host: '127.0.0.1', logger: false });

/** A fingerprint of what sits at a path, to prove a refusal left it alone. */
function fingerprint(target: string): string {
  const stat = lstatSync(target);
  const content = stat.isFile() ? readFileSync(target, 'utf8') : '';
  return JSON.stringify([stat.mode, stat.uid, stat.size, stat.mtimeMs, content]);
}

function expectRefusal(reason: RegExp, secretContent?: string): void {
  let error: unknown;
  try {
    plugin();
  } catch (caught) {
    error = caught;
  }
  expect(error, 'expressMicro() must refuse').toBeInstanceOf(expressMicro.OptionError);
  const { message, option } = error as InstanceType<typeof expressMicro.OptionError>;
  expect(option).toBe('secret');
  expect(message).toContain(path);
  expect(message).toMatch(reason);
  if (secretContent) expect(message).not.toContain(secretContent.trim());
  // Nothing half-created beside it.
  expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
}

describe('secret file attacks', () => {
  it('reads its secret from $TMPDIR (the setup every case below relies on)', () => {
    expect(path.startsWith(dir)).toBe(true);
    plugin();
    const stat = lstatSync(path);
    expect(stat.isFile()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(stat.uid).toBe(process.getuid!());
    expect(readFileSync(path, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    const first = fingerprint(path);
    plugin(); // a second service reads it, does not rewrite it
    expect(fingerprint(path)).toBe(first);
  });

  it('refuses a symlink planted at the path: to a good-looking file, dangling, or to a folder', () => {
    const decoy = join(dir, 'decoy.key');
    writeFileSync(decoy, GOOD, { mode: 0o600 });
    const before = fingerprint(decoy);
    symlinkSync(decoy, path);
    expectRefusal(/symbolic link/, GOOD);
    expect(fingerprint(decoy)).toBe(before);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);

    rmSync(path);
    const nowhere = join(dir, 'not-yet-there.key');
    symlinkSync(nowhere, path);
    expectRefusal(/symbolic link/);
    expect(existsSync(nowhere), 'the link target was not created through the link').toBe(false);

    rmSync(path);
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    symlinkSync(folder, path);
    expectRefusal(/symbolic link/);
    expect(readdirSync(folder)).toEqual([]);
  });

  it.skipIf(!isRoot)('refuses a file owned by another uid', () => {
    writeFileSync(path, GOOD, { mode: 0o600 });
    chownSync(path, 12345, 12345);
    const before = fingerprint(path);
    expectRefusal(/belongs to uid 12345, not to the current user/, GOOD);
    expect(fingerprint(path)).toBe(before);
  });

  it('refuses a file readable or writable by group or others', () => {
    writeFileSync(path, GOOD, { mode: 0o600 });
    for (const mode of [0o644, 0o640, 0o604, 0o660, 0o606, 0o620, 0o602, 0o610, 0o601, 0o666, 0o777]) {
      chmodSync(path, mode);
      const before = fingerprint(path);
      expectRefusal(new RegExp(`readable or writable by others \\(mode ${mode.toString(8)}\\)`), GOOD);
      expect(fingerprint(path), `mode ${mode.toString(8)} left alone`).toBe(before);
    }
    chmodSync(path, 0o600);
    expect(() => plugin()).not.toThrow();
  });

  it('refuses a folder, a FIFO (without blocking on it) and a file too short to be a secret', () => {
    mkdirSync(path);
    expectRefusal(/not a regular file/);
    rmSync(path, { recursive: true });

    execFileSync('mkfifo', ['-m', '600', path]);
    expectRefusal(/not a regular file/);
    rmSync(path);

    writeFileSync(path, 'short\n', { mode: 0o600 });
    expectRefusal(/fewer than 32 characters/, 'short');
  });

  it('still takes EXPRESS_DISCOVERY_KEY or the secret option over a bad file', async () => {
    symlinkSync(join(dir, 'anything'), path);
    process.env.EXPRESS_DISCOVERY_KEY = 'env-secret-0123456789abcdef';
    expect(() => plugin()).not.toThrow();
    delete process.env.EXPRESS_DISCOVERY_KEY;
    expect(() => expressMicro(express(), { serviceName: 'x', host: '127.0.0.1', logger: false, secret: 'option-secret-0123456789' })).not.toThrow();
  });

  it('ends a race of eight processes creating the file with one shared secret that all of them use', async () => {
    const RACERS = 8;
    const fixture = fileURLToPath(new URL('./secret-race-fixture.mjs', import.meta.url));
    const racers = Array.from({ length: RACERS }, () => waitingChild(fixture));
    await Promise.all(racers.map((racer) => racer.waiting));
    expect(existsSync(path)).toBe(false);
    for (const racer of racers) racer.child.stdin!.write('go\n'); // released together
    const ports = await Promise.all(racers.map((racer) => racer.ready));

    const stat = lstatSync(path);
    expect(stat.isFile()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((name) => name !== basename(path))).toEqual([]);
    const secret = readFileSync(path, 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);

    // Every racer accepts the file's secret, and only it.
    const urls = ports.map((port) => `http://127.0.0.1:${port}`);
    // The secret with its last character changed (to another one: a fixed '0' is the same 1 time in 16).
    const almost = secret.slice(0, -1) + (secret.endsWith('0') ? '1' : '0');
    for (const url of urls) {
      expect((await fetch(`${url}/_discovery/services`, { headers: { authorization: `Bearer ${secret}` } })).status, url).toBe(200);
      expect((await fetch(`${url}/_discovery/services`, { headers: { authorization: `Bearer ${almost}` } })).status, url).toBe(401);
    }
    // And they join each other: one joiner with that secret teaches all of them the whole cluster.
    const joiner = await startApp('race-joiner', { options: { secret, peers: urls, pingInterval: 200 } });
    await waitFor(() => joiner.micro.peers().filter((peer) => peer.status === 'UP' && !peer.self).length === RACERS, 'the joiner sees all racers UP', 10_000);
    await waitFor(
      async () => {
        const views = await Promise.all(
          urls.map(async (url) => {
            const view = (await (await fetch(`${url}/_discovery/services`, { headers: { authorization: `Bearer ${secret}` } })).json()) as { connectedPeers: Record<string, { instances: { status: string }[] }> };
            return Object.values(view.connectedPeers).flatMap((service) => service.instances).filter((instance) => instance.status === 'UP').length;
          }),
        );
        return views.every((count) => count === RACERS); // the other seven racers and the joiner
      },
      'every racer sees the seven others and the joiner UP',
      10_000,
    );
  }, 60_000);
});

const children = new Set<ChildProcess>();

/** Starts the race fixture; it resolves `waiting` once blocked on stdin and `ready` with its port. */
function waitingChild(fixture: string): { child: ChildProcess; waiting: Promise<void>; ready: Promise<number> } {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, EXPRESS_DISCOVERY_KEY: '', FIXTURE_OPTIONS: JSON.stringify({ serviceName: 'racer-service', host: '127.0.0.1', pingInterval: 200, logger: false }) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  let output = '';
  const seen = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`racer never printed ${pattern}: ${output}`)), 20_000);
      const check = () => {
        const match = pattern.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match);
        } else if (/ERROR/.test(output)) {
          clearTimeout(timer);
          reject(new Error(`racer failed: ${output}`));
        }
      };
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        check();
      });
      check();
    });
  return { child, waiting: seen(/WAITING/).then(() => undefined), ready: seen(/READY (\d+)/).then((match) => Number(match[1])) };
}
