/**
 * The core behaviours on Deno, against the BUILT package (dist/) imported by its npm name through
 * Deno's npm compatibility (package.json self-reference; Express and its types from
 * node_modules). The checks live in ../test-bun/scenarios.ts, shared with the Bun suite.
 *
 * Run by scripts/test-all (`npm run test:deno`) with the narrowest permissions that work:
 *   deno test --allow-net=127.0.0.1 --allow-env --allow-read=<repo>,<tmp> --allow-write=<tmp>
 *     --allow-sys=uid test-deno
 * `uid` is for the secret file's owner check; `networkInterfaces` is not needed because every
 * service is given its host.
 */
import expressMicro from 'express-micro';
import { scenarios } from '../test-bun/scenarios.ts';

Deno.test('runs on Deno and imports the built package', () => {
  if (typeof expressMicro !== 'function') throw new Error(`import gave ${typeof expressMicro}, not the function`);
  if (typeof expressMicro.RemoteError !== 'function') throw new Error('expressMicro.RemoteError is not a class');
  if (!import.meta.resolve('express-micro').endsWith('/dist/index.js')) {
    throw new Error(`express-micro resolved to ${import.meta.resolve('express-micro')}, not the built dist/index.js`);
  }
});

for (const { name, run } of scenarios(expressMicro)) Deno.test(name, run);
