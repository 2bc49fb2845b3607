/**
 * Issue 20, point 3: a rolling restart with `drain` loses no call, POSTs included. Two instances
 * of user-service run as child processes (the built package, test/fixtures/drain-service.mjs);
 * an in-process client calls GET and POST on them continuously while one at a time gets SIGTERM,
 * exits by itself, and is started again on the same port. Every call must succeed.
 *
 * DRAIN_MODE=close (the app's own SIGTERM handler: close(), then close the server) or
 * DRAIN_MODE=none (no handler: SIGTERM ends the process at once) measure the same load without
 * `drain`, the figures the README compares against; both are expected to fail.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { killAll, spawnService, waitFor } from '../helpers.ts';
import { startApp, stopApps } from './helpers.ts';
import { runLoad, type Load } from './load.ts';
import { restartSlot, startSlots, upIds, type Slot } from './slots.ts';

const MODE = process.env.DRAIN_MODE ?? 'drain';
const PING = 500;
const ROUNDS = Number(process.env.DRAIN_ROUNDS ?? 6);
const EXIT_BOUND = 15_000;

afterAll(async () => {
  await stopApps();
  await killAll();
});

describe('rolling restart with drain', () => {
  it(`loses no call, POSTs included, while each instance in turn is stopped with SIGTERM and restarted (${MODE})`, async () => {
    if (MODE === 'close') process.env.FIXTURE_ON_SIGTERM = 'close';
    const client = await startApp('drain-client', { options: { pingInterval: PING } });
    const options = { pingInterval: PING, peers: [client.url], ...(MODE === 'drain' ? { drain: { timeout: 10_000 } } : {}) };
    const spawn = (port = 0) => spawnService('user-service', options, port, 'drain-service.mjs');
    const slots = await startSlots(2, () => spawn());
    await waitFor(() => slots.every((slot) => upIds(client, slot.url).length === 1), 'the client sees both instances UP', 10_000);

    const load: Load = runLoad(client.micro.services, { workers: 8, maxCalls: 200_000, maxMs: 120_000 });
    try {
      await waitFor(() => slots.every((slot) => (load.servedBy.get(slot.port) ?? 0) > 20), 'both instances serve calls', 10_000);
      for (let round = 0; round < ROUNDS; round++) {
        const slot = slots[round % slots.length] as Slot;
        const exit = await restartSlot(slot, { caller: () => client, load, spawn, exitBound: EXIT_BOUND, label: `round ${round}` });
        if (MODE === 'drain') expect(exit, `instance ${slot.url} exits 0 by itself after draining`).toEqual({ code: 0, signal: null });
      }
    } finally {
      await load.stop();
    }
    const { gets, posts, failures } = load;
    console.info(`drain (${MODE}): ${ROUNDS} restarts, ${gets} GETs and ${posts} POSTs succeeded, ${failures.length} failed${failures.length > 0 ? `: ${failures.slice(0, 5).join(' | ')}` : ''}`);
    expect(posts).toBeGreaterThan(200 * ROUNDS);
    expect(failures).toEqual([]);
  }, 180_000);
});
