/**
 * The core behaviours on Bun, against the TypeScript source (Bun runs it as is). The checks
 * themselves live in ./scenarios.ts, shared with the Deno suite. Run with `bun test ./test-bun`.
 */
import { describe, expect, test } from 'bun:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import expressMicro from '../src/index.ts';
import { readOrCreateSecretFile, runtimeName, SecretFileError } from '../src/runtime/index.ts';
import { scenarios } from './scenarios.ts';

const TIMEOUT = 20_000;

describe('express-micro on Bun', () => {
  test('runs on Bun, with the fetch client', () => {
    expect(typeof (globalThis as { Bun?: unknown }).Bun).toBe('object');
    expect(runtimeName).toBe('bun');
  });

  for (const { name, run } of scenarios(expressMicro)) test(name, run, TIMEOUT);

  test('secret file: readOrCreateSecretFile creates a 0600 file, re-reads it, and refuses a loose one', () => {
    const folder = mkdtempSync(join(tmpdir(), 'express-micro-bun-secret-'));
    try {
      const path = join(folder, 'secret.key');
      const secret = readOrCreateSecretFile(path);
      expect(secret).toMatch(/^[0-9a-f]{64}$/);
      const stat = lstatSync(path);
      expect(stat.isFile()).toBe(true);
      expect(stat.mode & 0o777).toBe(0o600);
      expect(readOrCreateSecretFile(path)).toBe(secret);
      expect(readdirSync(folder)).toEqual(['secret.key']);
      // A file others can read is refused.
      const loose = join(folder, 'loose.key');
      writeFileSync(loose, `${'a'.repeat(64)}\n`, { mode: 0o600 });
      chmodSync(loose, 0o644);
      assert.throws(() => readOrCreateSecretFile(loose), SecretFileError);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
