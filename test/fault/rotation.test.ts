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
import { killAll, spawnService, terminate, waitFor, type ChildService } from '../helpers.ts';
import { startApp, stopApps, type FaultService } from './helpers.ts';
import { runLoad } from './load.ts';

const A = 'rotation-secret-a-0123456789abcdef';
const B = 'rotation-secret-b-fedcba9876543210';
const PHASES: string[][] = [[A, B], [B, A], [B]];
const PING = 500;
const EXIT_BOUND = 15_000;

afterAll(async () => {
  await stopApps();
  await killAll();
});

interface Slot {
  port: number;
  url: string;
  child: ChildService;
}

function upAt(caller: FaultService, url: string): string[] {
  return caller.micro.peers().filter((peer) => peer.service === 'user-service' && peer.url === url && peer.status === 'UP').map((peer) => peer.id);
}

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
  const slots: Slot[] = [];
  for (let index = 0; index < 2; index++) {
    const child = await spawn([A], slots.map((slot) => slot.url));
    slots.push({ port: child.port, url: child.url, child });
  }
  const urls = slots.map((slot) => slot.url);
  const startCaller = async (secret: string[]) => {
    const caller = await startApp('rotation-caller', { options: { ...mode, secret, peers: urls } });
    await waitFor(() => urls.every((url) => upAt(caller, url).length === 1), 'a new caller sees both instances UP', 10_000);
    return caller;
  };
  let caller = await startCaller([A]);
  const load = runLoad(caller.micro.services, { workers: 8, maxCalls: 200_000, maxMs: 150_000, through: () => caller.micro.services });
  const served = (slot: Slot) => load.servedBy.get(slot.port) ?? 0;
  const previous: number[][] = [];
  try {
    await waitFor(() => slots.every((slot) => served(slot) > 20), 'both instances serve calls', 10_000);
    for (const secret of PHASES) {
      for (const slot of slots) {
        const before = upAt(caller, slot.url)[0];
        expect(await terminate(slot.child, EXIT_BOUND), `${slot.url} drains and exits 0`).toEqual({ code: 0, signal: null });
        slot.child = await spawn(secret, urls.filter((url) => url !== slot.url), slot.port);
        await waitFor(() => upAt(caller, slot.url).some((id) => id !== before), `the caller sees ${slot.url} UP again with ${secret.length} secret(s)`, 10_000);
        const count = served(slot);
        await waitFor(() => served(slot) > count + 20, `the restarted ${slot.url} serves calls`, 10_000);
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
