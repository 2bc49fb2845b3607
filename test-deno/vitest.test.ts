/**
 * The shim that runs the shared suite on Deno (./vitest.ts) must fail what fails: runs
 * ./fixtures/shim-cases.ts through `deno test` and checks each case's verdict.
 */
import { expect, it } from 'vitest';

it('reports passes, failures, timeouts and skips as vitest would', async () => {
  const here = new URL('.', import.meta.url);
  const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ['test', '--no-check', `--import-map=${new URL('import-map.json', here).pathname}`, '--allow-env', '--allow-read', new URL('fixtures/shim-cases.ts', here).pathname],
    env: { NO_COLOR: '1' },
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  const verdicts = Object.fromEntries([...output.matchAll(/^(.+?) \.\.\. (ok|FAILED|ignored)/gm)].map((match) => [match[1], match[2]]));
  expect(verdicts).toEqual({
    'outer > passes': 'ok',
    'outer > fails on toBe': 'FAILED',
    'outer > fails on a rejects that resolved': 'FAILED',
    'outer > fails on an asymmetric matcher': 'FAILED',
    'outer > fails on a timeout': 'FAILED',
    'outer > each 1 then 2': 'ok',
    'outer > each 5 then 7': 'FAILED',
    'outer > inner > runs hooks in order in inner': 'ok',
    'outer > is skipped': 'ignored',
    'outer > is skipped by skipIf': 'ignored',
  });
  expect(output).toContain('timed out in 100 ms');
  expect(output).not.toContain('a skipped test ran');
}, 30_000);
