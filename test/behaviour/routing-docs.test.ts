/**
 * The code in docs/routing.md and the README's "Route names" does what its comments say: each
 * ```js block builds an app (Express 4 and 5), and each `name(args) → METHOD path` claim, in a
 * block's comments or in the prose (checked against the guide's first block), is what the proxy
 * would send (indexRoutes, chooseRoute, buildPath) and what the app answers on a real server.
 */
import express from 'express';
import express4 from 'express4';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPath } from '../../src/client/request.ts';
import { chooseRoute, compileRoute, indexRoutes, type CompiledRoute } from '../../src/client/route-index.ts';
import { readRoutes } from '../../src/routes/index.ts';

const GUIDE = readFileSync(new URL('../../docs/routing.md', import.meta.url), 'utf8');
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const README_SECTION = README.slice(README.indexOf('### Route names'), README.indexOf('\n#', README.indexOf('### Route names') + 1));

const BLOCK = /```js\n([\s\S]*?)```/g;
// `getItem({ id: 1 }) → GET /items/1`, in a comment or in prose (backticks around either side).
const CLAIM = /(\$call|[A-Za-z_][\w$]*)\(([^()]*)\)`? → `?(GET|POST|PUT|PATCH|DELETE|HEAD) ([^\s`]+)/g;

interface Claim {
  readonly text: string;
  readonly name: string;
  readonly args: unknown[];
  readonly method: string;
  readonly path: string;
}

function claims(text: string): Claim[] {
  return [...text.matchAll(CLAIM)].map((match) => ({
    text: match[0],
    name: match[1] as string,
    args: new Function(`return [${match[2]}]`)() as unknown[],
    method: match[3] as string,
    path: match[4] as string,
  }));
}

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

type Factory = (() => { listen(port: number, host: string, callback: () => void): Server }) & Record<string, unknown>;
const flavours: [string, Factory][] = [
  ['Express 5', express as unknown as Factory],
  ['Express 4', express4 as unknown as Factory],
];

/** Runs a block against a fresh app and serves it; the block sees `express` and `app`. */
async function build(create: Factory, code: string): Promise<{ app: unknown; url: string }> {
  const app = create();
  new Function('express', 'app', code)(create, app);
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  servers.push(server);
  return { app, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function check(app: unknown, url: string, claim: Claim): Promise<void> {
  let route: CompiledRoute;
  let args: Record<string, unknown> | undefined;
  if (claim.name === '$call') {
    route = compileRoute(claim.args[0] as string, claim.args[1] as string);
    args = claim.args[2] as Record<string, unknown> | undefined;
  } else {
    const found = indexRoutes(readRoutes(app)).get(claim.name);
    if (found === undefined || 'ambiguous' in found) throw new Error(`${claim.text}: ${claim.name} does not resolve to one route`);
    const given = claim.args[0];
    // A lone value fills the only parameter, as the proxy does.
    args = typeof given === 'object' || given === undefined ? (given as Record<string, unknown> | undefined) : { [found.params[0] as string]: given };
    route = chooseRoute(found, args);
  }
  expect(`${route.method} ${buildPath('docs', claim.name, route, args)}`, claim.text).toBe(`${claim.method} ${claim.path}`);
  const response = await fetch(url + claim.path, { method: claim.method });
  expect(response.status, `${claim.text}: the app answers`).toBe(200);
}

describe.each(flavours)('routing docs on %s', (_name, create) => {
  it.each([
    ['docs/routing.md', GUIDE],
    ['the README', README_SECTION],
  ])('%s: every block does what its comments say', async (_where, text) => {
    const blocks = [...text.matchAll(BLOCK)].map((match) => match[1] as string);
    expect(blocks.length).toBeGreaterThan(0);
    for (const code of blocks) {
      const { app, url } = await build(create, code);
      const said = claims(code);
      expect(said.length, code).toBeGreaterThan(0);
      for (const claim of said) await check(app, url, claim);
    }
  });

  it("docs/routing.md: the prose's calls are what its first block's app gets", async () => {
    const { app, url } = await build(create, [...GUIDE.matchAll(BLOCK)][0]?.[1] as string);
    const prose = GUIDE.replace(BLOCK, '');
    const said = claims(prose);
    expect(said.map((claim) => claim.name)).toContain('getItem');
    for (const claim of said) await check(app, url, claim);
  });
});
