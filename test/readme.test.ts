/**
 * The README's claims that code can check: the OptionError example is the real message, and the
 * HMAC-mode inspection snippet (docs/operating.md, "Inspecting a cluster") works against a live
 * service (run with `sh`, as a reader would).
 * Node only: it runs the snippet with `node`, as the README does.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import expressMicro from '../src/index.ts';
import { discovery, SECRET, startService, stopAll } from './helpers.ts';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
/** The guide the README's "Inspecting a cluster" moved to. */
const OPERATING = readFileSync(new URL('../docs/operating.md', import.meta.url), 'utf8');

afterEach(stopAll);

describe('README', () => {
  it('quotes the OptionError message for a bad peer word for word', () => {
    const quoted = /A bad option throws `OptionError` at once, naming it: `` (.+?) ``/.exec(README)?.[1];
    expect(quoted).toBeDefined();
    let message = '';
    try {
      expressMicro(express(), { serviceName: 'readme-service', host: '127.0.0.1', secret: SECRET, logger: false, peers: ['ftp://x'] });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(quoted);
  });

  it('shows a way to inspect a cluster in HMAC mode that works, where the Bearer curl gets 401', async () => {
    const service = await startService('inspected-service', (app) => app.get('/users/:id', (req, res) => res.json({})), { enableHmac: true });
    expect((await discovery(service.url, '/services')).status).toBe(401);

    const section = OPERATING.slice(OPERATING.indexOf('## Inspecting a cluster'));
    const snippet = /```sh\n(node --input-type=module -e '[\s\S]+?' http:\/\/127\.0\.0\.1:3000)\n```/.exec(section)?.[1];
    expect(snippet).toBeDefined();
    const command = snippet!.replace(/http:\/\/127\.0\.0\.1:3000$/, service.url);
    const run = () =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        execFile('sh', ['-c', command], { env: { ...process.env, EXPRESS_DISCOVERY_KEY: SECRET }, timeout: 10_000 }, (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: stdout + stderr }),
        );
      });
    const first = await run();
    expect(first.code).toBe(0);
    expect(first.output.startsWith('200 ')).toBe(true);
    const answer = JSON.parse(first.output.slice(4)) as { thisService: { name: string; routes: Array<{ path: string }> } };
    expect(answer.thisService.name).toBe('inspected-service');
    expect(answer.thisService.routes.map((route) => route.path)).toContain('/users/:id');
    // "Run the command again": a fresh nonce each time, so the second run is accepted too.
    expect((await run()).output.startsWith('200 ')).toBe(true);
  }, 20_000);
});
