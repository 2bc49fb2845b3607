/**
 * Issue 26: a rolling deploy loses no call. Three instances of user-service run as child
 * processes (the built package, test/fixtures/versioned-service.mjs) with `drain` on; one at a
 * time gets SIGTERM and is started again on its port as version 2, which adds a route (`/reports`,
 * GET and POST), moves one (`getAccount`: `/api/v1/accounts/:id` → `/api/v2/accounts/:accountId`)
 * and removes one (`/legacy`, GET and POST). An in-process caller keeps GET + POST load on the
 * routes both versions serve, and callers of each changed route use it as docs/rolling-deploys.md
 * says: the added route once an instance serves it, the removed one until the last instance that
 * serves it is about to go. Every call must succeed.
 *
 * Then a stale table: an instance killed (no goodbye) and started again on its port as version 2
 * while the caller, which probes rarely, still lists version 1's routes there.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/index.ts';
import { killAll, spawnService, waitFor } from '../helpers.ts';
import { startApp, stopApps, type FaultService } from './helpers.ts';
import { runLoad, type Load } from './load.ts';
import { restartSlot, startSlots, upIds, type Slot } from './slots.ts';

const PING = 500;
const EXIT_BOUND = 15_000;

afterAll(async () => {
  await stopApps();
  await killAll();
});

/** Whether `caller` sees an UP user-service instance publishing `route` (`METHOD /path`). */
function served(caller: FaultService, route: string): boolean {
  return caller.micro
    .peers()
    .some((peer) => peer.service === 'user-service' && peer.status === 'UP' && peer.routes.some((each) => `${each.method} ${each.path}` === route));
}

/** Calls of the routes that change, each while `on()` holds; bounded in count and time. */
function routeCallers(services: Services, calls: { name: string; on: () => boolean; call: (index: number) => Promise<unknown> }[], maxMs: number) {
  const failures: string[] = [];
  const done = new Map<string, number>();
  const versions = new Map<string, Set<number>>();
  let stopped = false;
  const started = Date.now();
  const worker = async (each: (typeof calls)[number]): Promise<void> => {
    for (let index = 0; !stopped && index < 50_000 && Date.now() - started < maxMs; index++) {
      if (!each.on()) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      try {
        const answer = (await each.call(index)) as { version: number };
        done.set(each.name, (done.get(each.name) ?? 0) + 1);
        let seen = versions.get(each.name);
        if (!seen) versions.set(each.name, (seen = new Set()));
        seen.add(answer.version);
      } catch (error) {
        failures.push(`${each.name}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      }
    }
  };
  const running = Promise.all(calls.map(worker));
  void services;
  return {
    failures,
    done,
    versions,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

describe('a rolling deploy v1 → v2', () => {
  it('loses no call, GET or POST, on routes added, moved, removed or unchanged', async () => {
    const client = await startApp('deploy-client', { options: { pingInterval: PING } });
    const spawn = (version: string, port = 0) =>
      spawnService('user-service', { pingInterval: PING, peers: [client.url], drain: { timeout: 10_000 }, metadata: { version } }, port, 'versioned-service.mjs');
    const slots = await startSlots(3, () => spawn('1'));
    await waitFor(() => slots.every((slot) => upIds(client, slot.url).length === 1), 'the client sees the three instances UP', 10_000);

    const users = () => client.micro.services.userService;
    let legacyUsed = true;
    const load: Load = runLoad(client.micro.services, { workers: 6, maxCalls: 200_000, maxMs: 150_000 });
    const callers = routeCallers(
      client.micro.services,
      [
        { name: 'getAccount', on: () => true, call: (index) => users().getAccount({ id: index, accountId: index }) },
        { name: 'getReports', on: () => served(client, 'GET /reports'), call: () => users().getReports() },
        { name: 'createReport', on: () => served(client, 'POST /reports'), call: (index) => users().createReport({ index }) },
        { name: 'getLegacy', on: () => legacyUsed, call: () => users().getLegacy() },
        { name: 'createLegacy', on: () => legacyUsed, call: (index) => users().createLegacy({ index }) },
      ],
      150_000,
    );
    try {
      await waitFor(() => slots.every((slot) => (load.servedBy.get(slot.port) ?? 0) > 20), 'the three instances serve calls', 10_000);
      for (const [index, slot] of slots.entries()) {
        // The procedure: callers stop using a removed route before the last instance serving it goes.
        if (index === slots.length - 1) legacyUsed = false;
        const exit = await restartSlot(slot as Slot, { caller: () => client, load, spawn: (port) => spawn('2', port), exitBound: EXIT_BOUND, label: `slot ${index}` });
        expect(exit, `instance ${slot.url} exits 0 by itself after draining`).toEqual({ code: 0, signal: null });
        await waitFor(() => (callers.done.get('getReports') ?? 0) > 10, 'the added route is called', 10_000);
      }
      const accounts = callers.done.get('getAccount') ?? 0;
      await waitFor(() => (callers.done.get('getAccount') ?? 0) > accounts + 20, 'the moved route is called on version 2 alone', 10_000);
    } finally {
      await load.stop();
      await callers.stop();
    }
    const figures = [...callers.done].map(([name, count]) => `${name} ${count}`).join(', ');
    console.info(`rolling deploy: ${load.gets} GETs and ${load.posts} POSTs, ${figures}; ${load.failures.length + callers.failures.length} failed`);
    expect(load.failures.slice(0, 5)).toEqual([]);
    expect(callers.failures.slice(0, 5)).toEqual([]);
    expect(load.posts).toBeGreaterThan(300);
    expect(callers.versions.get('getAccount')).toEqual(new Set([1, 2]));
    expect(callers.versions.get('getReports')).toEqual(new Set([2]));
    expect(callers.versions.get('createLegacy')).toEqual(new Set([1]));
    expect(callers.done.get('createReport') ?? 0).toBeGreaterThan(10);
    expect(callers.done.get('createLegacy') ?? 0).toBeGreaterThan(10);
  }, 200_000);
});

describe('a stale table', () => {
  it('moves GETs and POSTs off an instance restarted in place without the route, under HMAC, and fetches its routes again', async () => {
    // The caller probes rarely, so it learns of the restart only from its calls.
    const quiet = { pingInterval: 60_000, enableHmac: true };
    const client = await startApp('stale-client', { options: quiet });
    const spawn = (version: string, port = 0, peers = [client.url]) => spawnService('user-service', { ...quiet, peers, metadata: { version } }, port, 'versioned-service.mjs');
    const first = await spawn('1');
    const second = await spawn('1');
    await waitFor(() => upIds(client, first.url).length === 1 && upIds(client, second.url).length === 1 && served(client, 'POST /legacy'), 'the client sees both', 10_000);
    const before = upIds(client, first.url)[0];
    await first.kill();
    // Version 2 on the same port, joining no one: the caller's row for that address is stale.
    const replaced = await spawn('2', first.port, []);
    expect(upIds(client, replaced.url)).toEqual([before]);

    const users = client.micro.services.userService;
    const versions = new Set<number>();
    for (let index = 0; index < 20; index++) {
      versions.add(((await users.getLegacy()) as { version: number }).version);
      versions.add(((await users.createLegacy({ index })) as { version: number }).version);
    }
    expect(versions).toEqual(new Set([1]));
    const misrouted = client.micro.metrics().express_micro_retries_total?.samples.find((sample) => sample.labels.service === 'user-service' && sample.labels.reason === 'misrouted');
    expect(misrouted !== undefined && 'value' in misrouted ? misrouted.value : 0).toBeGreaterThan(0);
    // It asked for the routes at that address again: the new process is known, with its routes.
    await waitFor(() => served(client, 'GET /reports'), 'the client learned the routes of the process restarted in place', 10_000);
    expect(await users.getReports()).toMatchObject({ version: 2, port: replaced.port });
  }, 60_000);
});

describe('zones', () => {
  it('keeps calls in the caller’s zone while it is healthy, and spills over with no failed GET when both its instances are killed under load', async () => {
    const client = await startApp('zone-client', { options: { pingInterval: PING, zone: 'zone-a' } });
    const spawn = (zone: string) => spawnService('user-service', { pingInterval: PING, peers: [client.url], zone }, 0, 'versioned-service.mjs');
    const local = [await spawn('zone-a'), await spawn('zone-a')];
    const remote = [await spawn('zone-b'), await spawn('zone-b')];
    await waitFor(() => [...local, ...remote].every((child) => upIds(client, child.url).length === 1), 'the client sees the four instances UP', 10_000);
    const inZone = (load: Load) => local.reduce((sum, child) => sum + (load.servedBy.get(child.port) ?? 0), 0);

    const healthy: Load = runLoad(client.micro.services, { workers: 4, maxCalls: 1000, maxMs: 30_000 });
    await waitFor(() => healthy.gets + healthy.posts + healthy.failures.length >= 1000, 'a thousand calls', 30_000).finally(() => healthy.stop());
    const share = inZone(healthy) / (healthy.gets + healthy.posts);
    console.info(`zones: ${(share * 100).toFixed(1)}% of ${healthy.gets + healthy.posts} calls stayed in the caller's zone while it was healthy`);
    expect(healthy.failures).toEqual([]);
    expect(share).toBeGreaterThanOrEqual(0.95);
    const counted = client.micro.metrics().express_micro_zone_requests_total?.samples ?? [];
    const same = counted.find((sample) => sample.labels.locality === 'same_zone');
    expect(same !== undefined && 'value' in same ? same.value : 0).toBeGreaterThanOrEqual(950);

    const load: Load = runLoad(client.micro.services, { workers: 6, maxCalls: 100_000, maxMs: 60_000 });
    try {
      await waitFor(() => inZone(load) > 50, 'the zone serves calls under load', 10_000);
      await Promise.all(local.map((child) => child.kill()));
      const outside = () => remote.reduce((sum, child) => sum + (load.servedBy.get(child.port) ?? 0), 0);
      const before = outside();
      await waitFor(() => outside() > before + 500, 'the other zone takes the calls', 20_000);
    } finally {
      await load.stop();
    }
    const failedGets = load.failures.filter((failure) => failure.startsWith('GET'));
    console.info(`zones: both in-zone instances killed under load: ${load.gets} GETs, ${failedGets.length} failed; ${load.posts} POSTs, ${load.failures.length - failedGets.length} failed`);
    expect(failedGets.slice(0, 5)).toEqual([]);
  }, 90_000);
});
