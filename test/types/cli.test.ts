/**
 * The `express-micro` bin: the dispatcher, help, exit codes and one-line errors, in-process and
 * as the built dist/cli.js (run `npm run build` first; `npm test` does), including a machine
 * without TypeScript.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseOptions } from '../../src/cli/args.ts';
import { SECRET } from '../helpers.ts';
import { ROOT, runCli } from './support.ts';

const BIN = join(ROOT, 'dist/cli.js');

/** Runs a built bin with node; resolves with its exit code and output. */
function node(script: string, args: string[], cwd = ROOT, key = ''): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd, timeout: 20_000, env: { ...process.env, EXPRESS_DISCOVERY_KEY: key } }, (error, out, err) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, out, err }),
    );
  });
}

describe('the dispatcher', () => {
  it('lists its commands and the exit codes for --help, and says how to get help otherwise', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: express-micro <command> \[options\]\n\nCommands:\n {2}types +write TypeScript declarations/);
    expect(help.out).toContain('Exit codes: 0 done; 1 `--check` found a difference; 2 bad input or an error (one line on stderr).');
    expect(await runCli(['help'])).toEqual(help);
    const none = await runCli([]);
    expect(none).toEqual({ code: 2, out: '', err: help.out });
    expect(await runCli(['statu'])).toEqual({ code: 2, out: '', err: 'express-micro: unknown command "statu" (commands: types, dashboard; see express-micro --help)\n' });
  });

  it('shows a command\'s help with --help, -h or help <command>, exit codes included', async () => {
    const help = await runCli(['types', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: express-micro types /);
    expect(help.out).toContain('Exit codes: 0 written, or up to date with --check; 1 --check found a difference; 2 bad input or');
    expect(await runCli(['types', '-h'])).toEqual(help);
    expect(await runCli(['help', 'types'])).toEqual(help);
  });

  it.each([
    [['types', '--pier', 'x'], 'unknown option --pier'],
    [['types', '--peer'], '--peer needs a value'],
    [['types', '--peer', '--hmac'], '--peer needs a value'],
    [['types', '--peer', 'localhost:3000'], '--peer localhost:3000: only http: and https: URLs are supported'],
    [['types', '--peer', 'not a url'], '--peer "not a url" is not a URL (like http://127.0.0.1:3000)'],
    [['types', '--out', 'a.d.ts', '--out', 'b.d.ts'], '--out is given twice'],
    [['types', '--check'], '--check compares the file given with --out; give --out'],
    [['types', '--hmac=yes'], '--hmac takes no value'],
    [['types', 'src/services.d.ts'], 'unexpected argument "src/services.d.ts" (options start with --)'],
  ])('%j fails with exit code 2 and one line: %s', async (argv, message) => {
    expect(await runCli(argv)).toEqual({ code: 2, out: '', err: `express-micro types: ${message}\n` });
  });

  it('parses --name=value and keeps the order options came in', () => {
    expect(parseOptions(['--app=a.ts', '--name', 'a', '--app', 'b.ts'], { app: { kind: 'string', repeatable: true }, name: { kind: 'string', repeatable: true } })).toEqual([
      { name: 'app', value: 'a.ts' },
      { name: 'name', value: 'a' },
      { name: 'app', value: 'b.ts' },
    ]);
  });
});

describe('the built bin (dist/cli.js)', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error('dist/cli.js is missing: run `npm run build` before this test (npm test does)');
  });

  it('is an executable ESM script with a node shebang, apart from the library', () => {
    const text = readFileSync(BIN, 'utf8');
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(BIN).mode & 0o111).not.toBe(0);
    // The library's entries do not import the command line, nor TypeScript.
    for (const entry of ['dist/index.js', 'dist/index.cjs']) {
      const library = readFileSync(join(ROOT, entry), 'utf8');
      expect(library).not.toMatch(/typescript|express-micro types|cli\.js/);
    }
  });

  it('exits with the code it says and prints no stack trace', async () => {
    const help = await node(BIN, ['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: express-micro <command> [options]');
    const bad = await node(BIN, ['types', '--nope']);
    expect(bad).toEqual({ code: 2, out: '', err: 'express-micro types: unknown option --nope\n' });
    const unreachable = await node(BIN, ['types', '--peer', 'http://127.0.0.1:1'], ROOT, SECRET);
    expect(unreachable).toEqual({ code: 2, out: '', err: 'express-micro types: cannot reach http://127.0.0.1:1: cannot connect (ECONNREFUSED); is a service listening there?\n' });
  });

  it('says how to install TypeScript when --app finds none, in one line', async () => {
    // A copy of the bin in a folder with no node_modules above it: a machine without TypeScript.
    const lonely = mkdtempSync(join(tmpdir(), 'express-micro-no-typescript-'));
    try {
      copyFileSync(BIN, join(lonely, 'cli.js'));
      writeFileSync(join(lonely, 'service.ts'), "app.get('/x', (req, res) => res.json({}));\n");
      const run = await node(join(lonely, 'cli.js'), ['types', '--app', 'service.ts'], lonely);
      expect(run).toEqual({
        code: 2,
        out: '',
        err: "express-micro types: --app reads the service's source with the TypeScript compiler, which is not installed here (npm install --save-dev typescript)\n",
      });
    } finally {
      rmSync(lonely, { recursive: true, force: true });
    }
  });
});
