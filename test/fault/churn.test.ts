/**
 * Issue 5, point 5: a bounded churn soak. Three services with two instances each run as child
 * processes (the built package); an in-process client calls them continuously while a loop kills
 * (SIGKILL, no leave message) and restarts random instances on the same port. Checked:
 * - every call settles, within its timeout plus scheduling slack;
 * - a GET succeeds whenever an instance of its target was UP at call time (see `mustSucceed`);
 * - after churn stops, every survivor's table converges to the truth within two ping intervals
 *   plus a small bound;
 * - the client process ends with no more sockets, timers or listeners than it had before.
 */
import { getEventListeners } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import expressMicro from '../../src/index.ts';
import { killAll, SECRET, spawnService, waitFor, type ChildService } from '../helpers.ts';
import { connectionsOf, resourceCounts, startApp, stopApps, type FaultService } from './helpers.ts';
import { seeded } from '../support/random.ts';

afterAll(async () => {
  await stopApps();
  await killAll();
});

const PING = 500; // pingTimeout 250 ms: generous on a shared two-core machine
const CALL_TIMEOUT = 2000;
const SLACK = 500; // how late past its timeout a call may settle on a busy machine
const CHURN_MS = Number(process.env.CHURN_MS ?? 40_000);
const MAX_ROUNDS = 120;
const MAX_CALLS = 40_000;
const WORKERS = 3;
const CONVERGE_BOUND = 2 * PING + 750;
const SERVICES = ['alpha-service', 'beta-service', 'gamma-service'] as const;
const CALL_NAMES = { 'alpha-service': 'alphaService', 'beta-service': 'betaService', 'gamma-service': 'gammaService' } as const;

/** One instance slot: a service name and a port that its successive processes reuse. */
interface Slot {
  service: (typeof SERVICES)[number];
  port: number;
  url: string;
  child: ChildService;
  /** True from "READY" (listening) until the moment we decide to kill it. */
  alive: boolean;
  /** Bumped on every kill, so a call can tell whether its instance lived through it. */
  epoch: number;
}

async function ask(url: string, path: string): Promise<unknown> {
  const response = await fetch(`${url}/_discovery${path}`, { headers: { authorization: `Bearer ${SECRET}` }, signal: AbortSignal.timeout(2000) });
  if (response.status !== 200) throw new Error(`${url}${path} answered ${response.status}`);
  return response.json();
}

/** Each survivor's view: the non-self instances it lists, as "id url status", sorted. */
async function views(client: FaultService, slots: Slot[]): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  result.set(client.url, client.micro.peers().filter((peer) => !peer.self).map((peer) => `${peer.id} ${peer.url} ${peer.status}`).sort());
  await Promise.all(
    slots.map(async (slot) => {
      const view = (await ask(slot.url, '/services')) as { connectedPeers: Record<string, { instances: { id: string; url: string; status: string }[] }> };
      const lines = Object.values(view.connectedPeers).flatMap((service) => service.instances.map((instance) => `${instance.id} ${instance.url} ${instance.status}`));
      result.set(slot.url, lines.sort());
    }),
  );
  return result;
}

function listenerCounts(client: FaultService, signal: AbortSignal): Record<string, number> {
  const counts: Record<string, number> = { 'signal abort': getEventListeners(signal, 'abort').length };
  for (const name of client.server.eventNames()) counts[`server ${String(name)}`] = client.server.listenerCount(name);
  for (const name of process.eventNames()) counts[`process ${String(name)}`] = process.listenerCount(name);
  return counts;
}

describe('churn soak', () => {
  it('keeps calls settling and succeeding while instances are killed and restarted, then converges and leaks nothing', async () => {
    const seed = Number(process.env.CHURN_SEED ?? Date.now() % 2 ** 31);
    const random = seeded(seed);
    const client = await startApp('churn-client', { options: { pingInterval: PING, timeout: CALL_TIMEOUT } });
    const childOptions = { pingInterval: PING, peers: [client.url] };

    // The client's table, by URL: which ids are UP there, and how often one went DOWN or away.
    const upAt = new Map<string, Set<string>>();
    const losses = new Map<string, number>();
    const lose = (url: string, id: string) => {
      upAt.get(url)?.delete(id);
      losses.set(url, (losses.get(url) ?? 0) + 1);
    };
    client.micro.on('up', (instance) => {
      let ids = upAt.get(instance.url);
      if (!ids) upAt.set(instance.url, (ids = new Set()));
      ids.add(instance.id);
    });
    client.micro.on('down', (instance) => lose(instance.url, instance.id));
    client.micro.on('removed', (instance) => lose(instance.url, instance.id));
    const upInTable = (url: string) => (upAt.get(url)?.size ?? 0) > 0;
    const outOfRotation = (url: string) => client.micro.peers().every((peer) => peer.url !== url || peer.status === 'DOWN' || peer.suspect);

    const slots: Slot[] = await Promise.all(
      SERVICES.flatMap((service) =>
        [0, 1].map(async () => {
          const child = await spawnService(service, childOptions);
          return { service, port: child.port, url: child.url, child, alive: true, epoch: 0 };
        }),
      ),
    );
    await waitFor(() => slots.every((slot) => upInTable(slot.url)), 'the client sees all six instances UP', 10_000);

    // One long-lived signal goes with every call: a listener left on it per call would show.
    const controller = new AbortController();
    const stats = { calls: 0, ok: 0, failed: 0, mustSucceed: 0, timeouts: 0, slowest: 0, kills: 0, restarts: 0, doubleKills: 0 };
    const failuresByKind = new Map<string, number>();
    const violations: string[] = [];
    let inflight = 0;
    let stop = false;

    async function oneCall(): Promise<void> {
      const service = SERVICES[Math.floor(random() * SERVICES.length)]!;
      const targets = slots.filter((slot) => slot.service === service);
      // An instance is a sure target when its process is alive and the client lists it UP now.
      const sure = targets.filter((slot) => slot.alive && upInTable(slot.url)).map((slot) => ({ slot, epoch: slot.epoch, losses: losses.get(slot.url) ?? 0 }));
      const started = performance.now();
      inflight++;
      stats.calls++;
      let error: unknown;
      let answer: { port?: number } | undefined;
      try {
        answer = await client.micro.services[CALL_NAMES[service]]!.getUser!({ id: stats.calls }, { signal: controller.signal });
      } catch (caught) {
        error = caught;
      } finally {
        inflight--;
      }
      const ms = performance.now() - started;
      stats.slowest = Math.max(stats.slowest, ms);
      if (ms > CALL_TIMEOUT + SLACK) violations.push(`a call to ${service} took ${Math.round(ms)} ms (timeout ${CALL_TIMEOUT})`);
      // It must succeed when one sure target stayed alive (no kill) and stayed UP in the client's
      // table (no down/removed event at its URL) for the whole call. Allowed to fail otherwise:
      // the only live instance was killed mid-call, or the client had not yet learned that a
      // restarted instance was UP, or it lost it from its table during the call; then the
      // retry has nothing alive left to move on to.
      const must = sure.some(({ slot, epoch, losses: before }) => slot.alive && slot.epoch === epoch && (losses.get(slot.url) ?? 0) === before);
      if (must) stats.mustSucceed++;
      if (error === undefined) {
        stats.ok++;
        const port = answer?.port;
        if (!targets.some((slot) => slot.port === port)) violations.push(`a call to ${service} was answered from port ${port}, not one of ${service}'s`);
        return;
      }
      stats.failed++;
      const kind = (error as Error).name;
      failuresByKind.set(kind, (failuresByKind.get(kind) ?? 0) + 1);
      if (error instanceof expressMicro.TimeoutError) stats.timeouts++;
      if (!(error instanceof expressMicro.ExpressMicroError)) violations.push(`a call to ${service} failed with a non-library error: ${String(error)}`);
      else if (must) violations.push(`a GET to ${service} failed although ${sure.map(({ slot }) => slot.url).join(' and ')} stayed alive and UP: ${(error as Error).message}`);
    }

    async function worker(): Promise<void> {
      while (!stop && stats.calls < MAX_CALLS) {
        await oneCall();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }

    async function burst(count: number): Promise<void> {
      await Promise.all(Array.from({ length: WORKERS }, async () => {
        for (let index = 0; index < count / WORKERS; index++) await oneCall();
      }));
    }

    // Baseline, measured after the same kind of traffic the end measurement follows.
    await burst(300);
    const resourcesBefore = resourceCounts();
    const connectionsBefore = await connectionsOf(client.server);
    const listenersBefore = listenerCounts(client, controller.signal);

    const workers = Array.from({ length: WORKERS }, worker);
    const churnEnds = Date.now() + CHURN_MS;
    try {
      for (let round = 0; round < MAX_ROUNDS && Date.now() < churnEnds; round++) {
        const first = slots[Math.floor(random() * slots.length)]!;
        const both = random() < 0.2;
        const victims = both ? slots.filter((slot) => slot.service === first.service) : [first];
        if (both) stats.doubleKills++;
        for (const victim of victims) {
          victim.alive = false;
          victim.epoch++;
        }
        await Promise.all(victims.map((victim) => victim.child.kill()));
        stats.kills += victims.length;
        // Half the time the client must notice first (probe or failed call); else restart at once.
        // Noticing is the member leaving the client's rotation (suspected, or DOWN): DOWN itself
        // waits out the suspicion, which would leave time for far fewer kills in the window.
        if (random() < 0.5) await waitFor(() => victims.every((victim) => outOfRotation(victim.url)), 'the client takes the victims out of its rotation', 4 * PING + 2000);
        for (const victim of victims) {
          victim.child = await spawnService(victim.service, childOptions, victim.port);
          victim.alive = true;
          stats.restarts++;
        }
        if (random() < 0.5) await waitFor(() => victims.every((victim) => upInTable(victim.url)), 'the client sees the restarted victims UP', 4 * PING + 2000);
      }
    } finally {
      stop = true;
    }
    const churnStopped = Date.now();

    // Every call settles: the workers finish within one call timeout (plus slack).
    await waitFor(() => inflight === 0, 'every call in flight settled', CALL_TIMEOUT + SLACK);
    await Promise.all(workers);

    // Convergence: every survivor lists exactly the live instances, UP, with their current ids.
    const ids = new Map<string, string>();
    for (const slot of slots) ids.set(slot.url, ((await ask(slot.url, '/ping')) as { id: string }).id);
    const clientId = client.micro.peers().find((peer) => peer.self)!.id;
    const everyone = [[clientId, client.url], ...slots.map((slot) => [ids.get(slot.url)!, slot.url])] as const;
    const truthFor = (url: string) => everyone.filter(([, other]) => other !== url).map(([id, other]) => `${id} ${other} UP`).sort();
    let lastViews = new Map<string, string[]>();
    const converged = async () => {
      lastViews = await views(client, slots);
      return [...lastViews].every(([url, lines]) => JSON.stringify(lines) === JSON.stringify(truthFor(url)));
    };
    try {
      await waitFor(converged, 'every survivor table equals the truth', CONVERGE_BOUND + (Date.now() - churnStopped));
    } catch (error) {
      const wrong = [...lastViews].filter(([url, lines]) => JSON.stringify(lines) !== JSON.stringify(truthFor(url)));
      throw new Error(`${(error as Error).message}\n${wrong.map(([url, lines]) => `${url}: ${lines.join(', ')}\n  truth: ${truthFor(url).join(', ')}`).join('\n')}`);
    }
    const convergedAfter = Date.now() - churnStopped;

    // Leaks: the same traffic again, then the same counts as before the churn.
    await burst(300);
    await waitFor(() => inflight === 0, 'burst settled', CALL_TIMEOUT + SLACK);
    const resourcesAfter = resourceCounts();
    const connectionsAfter = await connectionsOf(client.server);
    const listenersAfter = listenerCounts(client, controller.signal);

    console.info(
      `churn: seed ${seed}, ${stats.kills} kills (${stats.doubleKills} of both instances), ${stats.restarts} restarts, ${stats.calls} calls ` +
        `(${stats.ok} ok, ${stats.failed} failed ${JSON.stringify(Object.fromEntries(failuresByKind))}, ${stats.mustSucceed} had a live UP target), ` +
        `slowest ${Math.round(stats.slowest)} ms, converged ${convergedAfter} ms after churn stopped; ` +
        `resources before ${JSON.stringify(resourcesBefore)} after ${JSON.stringify(resourcesAfter)}; server connections ${connectionsBefore} → ${connectionsAfter}`,
    );

    expect(violations.slice(0, 20)).toEqual([]);
    expect(stats.kills).toBeGreaterThanOrEqual(20);
    expect(stats.mustSucceed).toBeGreaterThan(1000);
    expect(stats.ok).toBeGreaterThan(stats.failed);
    expect(convergedAfter).toBeLessThanOrEqual(CONVERGE_BOUND + 250);
    // Sockets: pools hold one or two keep-alive connections per live instance and direction, so
    // the count wanders by a few; one socket left behind per kill would add 80 or more.
    // Timers and listeners must not grow at all.
    expect(resourcesAfter.TCPSocketWrap ?? 0).toBeLessThanOrEqual((resourcesBefore.TCPSocketWrap ?? 0) + 10);
    expect(resourcesAfter.Timeout ?? 0).toBeLessThanOrEqual((resourcesBefore.Timeout ?? 0) + 1);
    expect(resourcesAfter.TCPServerWrap).toBe(resourcesBefore.TCPServerWrap);
    expect(connectionsAfter).toBeLessThanOrEqual(connectionsBefore + 10);
    expect(listenersAfter).toEqual(listenersBefore);
    expect(listenersAfter['signal abort']).toBe(0);
  }, 150_000);
});
