import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultSecretPath, readOrCreateSecretFile, SecretFileError } from '../../src/runtime/index.ts';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasUid = typeof process.getuid === 'function';
const BUN = resolve('node_modules/.bin/bun');
const SOURCE = resolve('src/runtime/secret-file/index.ts');

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'express-micro-secret-test-'));
});
afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

function refusal(path: string): SecretFileError {
  let caught: unknown;
  try {
    readOrCreateSecretFile(path);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SecretFileError);
  return caught as SecretFileError;
}

const GOOD = `${'0123456789abcdef'.repeat(4)}\n`;

describe('readOrCreateSecretFile', () => {
  it('puts the default file in the OS temp folder, per user', () => {
    expect(defaultSecretPath().startsWith(tmpdir())).toBe(true);
    if (hasUid) expect(defaultSecretPath()).toContain(String(process.getuid!()));
  });

  it('creates a 0600 file with a long random secret and leaves no temporary file behind', () => {
    const path = join(folder, 'secret.key');
    const secret = readOrCreateSecretFile(path);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const stat = lstatSync(path);
    expect(stat.isFile()).toBe(true);
    if (hasUid) {
      expect(stat.mode & 0o777).toBe(0o600);
      expect(stat.uid).toBe(process.getuid!());
    }
    expect(stat.nlink).toBe(1);
    expect(readdirSync(folder)).toEqual(['secret.key']);
  });

  it('returns the same secret on the second read, and different files get different secrets', () => {
    const path = join(folder, 'secret.key');
    const first = readOrCreateSecretFile(path);
    expect(readOrCreateSecretFile(path)).toBe(first);
    expect(readOrCreateSecretFile(join(folder, 'other.key'))).not.toBe(first);
  });

  it('reads a file another service created first, unchanged', () => {
    const path = join(folder, 'secret.key');
    writeFileSync(path, GOOD, { mode: 0o600 });
    expect(readOrCreateSecretFile(path)).toBe(GOOD.trim());
    expect(readdirSync(folder)).toEqual(['secret.key']);
  });

  it('refuses a symlink planted at the path, even one pointing at a valid 0600 file', () => {
    const target = join(folder, 'real.key');
    writeFileSync(target, GOOD, { mode: 0o600 });
    expect(readOrCreateSecretFile(target)).toBe(GOOD.trim());
    const path = join(folder, 'secret.key');
    symlinkSync(target, path);
    const error = refusal(path);
    expect(error.message).toMatch(/symbolic link/);
    expect(error.message).toContain(path);
    expect(error.message).not.toContain(GOOD.trim());
  });

  it('refuses a hard link to another private file planted at the path', () => {
    const target = join(folder, 'id_private');
    writeFileSync(target, GOOD, { mode: 0o600 });
    const path = join(folder, 'secret.key');
    linkSync(target, path);
    const error = refusal(path);
    expect(error.message).toMatch(/hard links/);
    expect(error.message).not.toContain(GOOD.trim());
  });

  it('refuses a dangling symlink instead of creating the file through it', () => {
    const target = join(folder, 'where-the-attacker-wants-it.key');
    const path = join(folder, 'secret.key');
    symlinkSync(target, path);
    expect(refusal(path).message).toMatch(/symbolic link/);
    expect(existsSync(target)).toBe(false);
  });

  it('refuses a directory at the path', () => {
    const path = join(folder, 'secret.key');
    mkdirSync(path);
    expect(refusal(path).message).toMatch(/not a regular file/);
  });

  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602]) {
    it.skipIf(!hasUid)(`refuses a file with mode ${mode.toString(8)}`, () => {
      const path = join(folder, 'secret.key');
      writeFileSync(path, GOOD, { mode: 0o600 });
      chmodSync(path, mode);
      const error = refusal(path);
      expect(error.message).toMatch(/readable or writable by others/);
      expect(error.message).toContain(mode.toString(8));
      expect(error.message).not.toContain(GOOD.trim());
    });
  }

  it.skipIf(!isRoot)('refuses a file owned by another user', () => {
    const path = join(folder, 'secret.key');
    writeFileSync(path, GOOD, { mode: 0o600 });
    chownSync(path, 12345, 12345);
    const error = refusal(path);
    expect(error.message).toMatch(/uid 12345/);
    expect(error.message).not.toContain(GOOD.trim());
  });

  it('refuses a file that is too short, and an empty one', () => {
    const path = join(folder, 'secret.key');
    writeFileSync(path, `${'a'.repeat(31)}\n`, { mode: 0o600 });
    expect(refusal(path).message).toMatch(/fewer than 32 characters/);
    writeFileSync(path, '', { mode: 0o600 });
    expect(refusal(path).message).toMatch(/fewer than 32 characters/);
    // The refused file is left alone, not replaced.
    expect(statSync(path).size).toBe(0);
  });

  it('ignores leftover temporary files of a creator that crashed', () => {
    const path = join(folder, 'secret.key');
    writeFileSync(`${path}.deadbeefdeadbeef.tmp`, 'half', { mode: 0o600 });
    const secret = readOrCreateSecretFile(path);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(readOrCreateSecretFile(path)).toBe(secret);
  });

  it('gives 20 processes racing to create the file one and the same secret (30 rounds)', async () => {
    // Each Bun process imports the TypeScript source, says it is ready, then for every path it
    // reads on stdin creates-or-reads that secret file and prints the result. The test sends
    // each round's path to all processes at once, so their creations race; no sleeps.
    const script = `
      import { readOrCreateSecretFile } from ${JSON.stringify(SOURCE)};
      let pending = '';
      process.stdin.setEncoding('utf8');
      process.stdin.on('data', (chunk) => {
        pending += chunk;
        let end;
        while ((end = pending.indexOf('\\n')) >= 0) {
          const path = pending.slice(0, end);
          pending = pending.slice(end + 1);
          if (path === 'exit') process.exit(0);
          try {
            process.stdout.write('secret:' + readOrCreateSecretFile(path) + '\\n');
          } catch (error) {
            process.stdout.write('error:' + String(error) + '\\n');
          }
        }
      });
      process.stdout.write('ready\\n');
    `;
    const scriptPath = join(folder, 'creator.ts');
    writeFileSync(scriptPath, script);
    const children = Array.from({ length: 20 }, () => {
      const child = spawn(BUN, [scriptPath], { stdio: ['pipe', 'pipe', 'pipe'] });
      const lines: string[] = [];
      const waiters: Array<() => void> = [];
      let partial = '';
      let errors = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        errors += chunk;
      });
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        partial += chunk;
        let end: number;
        while ((end = partial.indexOf('\n')) >= 0) {
          lines.push(partial.slice(0, end));
          partial = partial.slice(end + 1);
          waiters.shift()?.();
        }
      });
      const exited = new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
      const nextLine = (): Promise<string> =>
        new Promise((resolveLine, reject) => {
          const take = (): void => resolveLine(lines.shift()!);
          if (lines.length > 0) take();
          else {
            waiters.push(take);
            void exited.then((code) => reject(new Error(`creator exited (${code}): ${errors}`)));
          }
        });
      return { child, nextLine, exited };
    });
    try {
      expect(await Promise.all(children.map((c) => c.nextLine()))).toEqual(Array(20).fill('ready'));
      for (let round = 0; round < 30; round += 1) {
        const path = join(folder, `secret-${round}.key`);
        for (const { child } of children) child.stdin.write(`${path}\n`);
        const answers = await Promise.all(children.map((c) => c.nextLine()));
        for (const answer of answers) expect(answer).toMatch(/^secret:[0-9a-f]{64}$/);
        expect(new Set(answers).size).toBe(1);
        expect(readOrCreateSecretFile(path)).toBe(answers[0]!.slice('secret:'.length));
        if (hasUid) expect(lstatSync(path).mode & 0o777).toBe(0o600);
      }
      expect(readdirSync(folder).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    } finally {
      for (const { child } of children) child.stdin.end('exit\n');
      expect(await Promise.all(children.map((c) => c.exited))).toEqual(Array(20).fill(0));
    }
  }, 30_000);
});
