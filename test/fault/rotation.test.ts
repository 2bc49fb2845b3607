/**
 * Issue 20, point 2: a rolling secret rotation loses no call. Two instances of user-service run
 * as child processes (the built package, test/fixtures/drain-service.mjs, with `drain`) and two
 * in-process callers take turns carrying a GET + POST load. Every member moves through the phases
 * one at a time: [A] → [A, B] → [B, A] → [B], each restarted (a caller is replaced by a new one
 * before the old one stops). In Bearer mode the secret guards discovery; in HMAC mode the calls
 * too (`requireSignature()`). Checked: every call succeeds; once every member sends B, the
 * previous-secret counters stop moving (what tells an operator the last phase is safe).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ExpressMicroOptions } from '../../src/index.ts';
import { signRequest } from '../../src/security/index.ts';
import { killAll, spawnService, waitFor } from '../helpers.ts';
import { startApp, stopApps } from './helpers.ts';
import { runLoad } from './load.ts';
import { restartSlot, startSlots, upIds } from './slots.ts';

const A = 'rotation-secret-a-0123456789abcdef';
const B = 'rotation-secret-b-fedcba9876543210';
const PHASES: string[][] = [[A, B], [B, A], [B]];
const PING = 500;
const EXIT_BOUND = 15_000;

afterAll(async () => {
  await stopApps();
  await killAll();
});

/** A child's `express_micro_previous_secret_accepted_total`, read with secret B as the cluster would send it. */
async function previousAccepted(url: string, hmac: boolean): Promise<number> {
  const path = '/_discovery/metrics';
  const auth = hmac ? signRequest(B, 'GET', path, undefined) : { authorization: `Bearer ${B}` };
  const answer = await fetch(`${url}${path}`, { headers: { accept: 'application/json', ...auth }, signal: AbortSignal.timeout(2000) });
  if (answer.status !== 200) throw new Error(`${url}${path} answered ${answer.status}`);
  const metrics = (await answer.json()) as Record<string, { samples: { value: number }[] }>;
  return metrics.express_micro_previous_secret_accepted_total?.samples[0]?.value ?? Number.NaN;
}

async function rotate(hmac: boolean): Promise<void> {
  const mode: ExpressMicroOptions = { enableHmac: hmac, pingInterval: PING };
  const spawn = (secret: string[], peers: string[], port = 0) => spawnService('user-service', { ...mode, secret, peers, drain: { timeout: 10_000 } }, port, 'drain-service.mjs');
  const slots = await startSlots(2, (earlier) => spawn([A], earlier));
  const urls = slots.map((slot) => slot.url);
  const startCaller = async (secret: string[]) => {
    const caller = await startApp('rotation-caller', { options: { ...mode, secret, peers: urls } });
    await waitFor(() => urls.every((url) => upIds(caller, url).length === 1), 'a new caller sees both instances UP', 10_000);
    return caller;
  };
  let caller = await startCaller([A]);
  const load = runLoad(caller.micro.services, { workers: 8, maxCalls: 200_000, maxMs: 150_000, through: () => caller.micro.services });
  const previous: number[][] = [];
  try {
    await waitFor(() => slots.every((slot) => (load.servedBy.get(slot.port) ?? 0) > 20), 'both instances serve calls', 10_000);
    for (const secret of PHASES) {
      for (const slot of slots) {
        const spawnHere = (port: number) => spawn(secret, urls.filter((url) => url !== slot.url), port);
        const exit = await restartSlot(slot, { caller: () => caller, load, spawn: spawnHere, exitBound: EXIT_BOUND, label: `${secret.length} secret(s)` });
        expect(exit, `${slot.url} drains and exits 0`).toEqual({ code: 0, signal: null });
      }
      const old = caller;
      caller = await startCaller(secret);
      await old.stop();
      if (secret[0] === B && secret.length === 2) {
        // Every member now sends B: what the instances accepted under A must stop growing.
        const counts = await Promise.all(urls.map((url) => previousAccepted(url, hmac)));
        const calls = load.gets + load.posts;
        await waitFor(() => load.gets + load.posts > calls + 200, '200 more calls', 10_000);
        previous.push(counts, await Promise.all(urls.map((url) => previousAccepted(url, hmac))));
      }
    }
  } finally {
    await load.stop();
    await caller.stop();
  }
  const [before, after] = previous;
  console.info(
    `rotation (${hmac ? 'HMAC' : 'Bearer'}): 6 restarts and 3 new callers, ${load.gets} GETs and ${load.posts} POSTs succeeded, ${load.failures.length} failed` +
      `${load.failures.length > 0 ? `: ${load.failures.slice(0, 5).join(' | ')}` : ''}; accepted under A by [B, A] instances: ${JSON.stringify(before)} then ${JSON.stringify(after)}`,
  );
  expect(load.posts).toBeGreaterThan(500);
  expect(load.failures).toEqual([]);
  expect(after).toEqual(before);
}

describe('rolling secret rotation under load', () => {
  it('loses no call in Bearer mode', () => rotate(false), 180_000);
  it('loses no call in HMAC mode, calls signed and checked by requireSignature()', () => rotate(true), 180_000);
});
