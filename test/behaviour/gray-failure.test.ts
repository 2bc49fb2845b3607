/**
 * Gray failure on the call path: an instance that is slow, or answers 5xx while it still answers
 * its pings. Real Express servers on 127.0.0.1, in this process; every load loop is bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ExpressMicroOptions, InstanceInfo } from '../../src/index.ts';
import { startService, stopAll, upInstances, waitFor, type TestService } from '../helpers.ts';

afterEach(stopAll);

type Behaviour = { status: number; delay: number };

/** Three (or `count`) user-service instances, each answering GET/POST /users/:id as told, and a caller. */
async function cluster(behaviours: Behaviour[], options: ExpressMicroOptions) {
  const hits: number[] = behaviours.map(() => 0);
  const instances: TestService[] = [];
  for (const [index, behaviour] of behaviours.entries()) {
    const answer = (req: { params: { id?: string } }, res: { status(code: number): { json(body: unknown): void } }) => {
      hits[index]!++;
      const send = () => res.status(behaviour.status).json({ id: req.params.id, index });
      if (behaviour.delay > 0) setTimeout(send, behaviour.delay);
      else send();
    };
    instances.push(
      await startService('user-service', (app) => {
        app.get('/users/:id', answer);
        app.post('/users/:id', answer);
      }, instances.length > 0 ? { peers: [instances[0]!.url] } : {}),
    );
  }
  const client = await startService('order-service', () => {}, { peers: [instances[0]!.url], ...options });
  await waitFor(() => upInstances(client.micro, 'user-service').length === behaviours.length, 'every user-service instance UP');
  const urls = instances.map((instance) => instance.url);
  return { client, hits, urls, getUser: client.micro.services.userService.getUser!, createUser: client.micro.services.userService.createUser! };
}

/** `total` calls, `parallel` at a time; counts what failed. */
async function load(call: (index: number) => Promise<unknown>, total: number, parallel: number): Promise<{ failed: number; errors: unknown[] }> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < total) {
      const index = next++;
      await call(index).catch((error: unknown) => errors.push(error));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { failed: errors.length, errors };
}

const healthy: Behaviour = { status: 200, delay: 0 };

describe('a slow instance', () => {
  const slow: Behaviour = { status: 200, delay: 20 };

  it('gets a small share with the default balancer (two choices, latency × outstanding)', async () => {
    const { hits, getUser } = await cluster([healthy, healthy, slow], { outlierDetection: false });
    const { failed } = await load((index) => getUser({ id: index }), 300, 4);
    expect(failed).toBe(0);
    const share = hits[2]! / 300;
    console.info(`slow instance share: ${share.toFixed(3)} (round-robin would give 0.333)`);
    expect(share).toBeLessThan(0.15);
  }, 20_000);

  // Issue 22's shape: warm-up, then a count of calls. The slow instance's target is 0.5% of them
  // (scripts/bench-tail.mjs measures it across processes). Here every server shares the test's
  // event loop, so the fast instances' pauses are long and frequent and the share noisier: with 4
  // in flight it was 0.1–1.7% (the balancer before issue 22: 1.9–2.9%), with 16 0.1–1.0% (before:
  // 4.0–4.6%). The bounds leave room for that: 16 in flight is the case that tells the two apart;
  // 4 in flight catches a balancer that stops preferring the fast instances. On a machine busy with
  // other work 16 in flight reached 2.4% (Deno, load average 7 on 2 cores), hence 3%: still under
  // the old balancer's lowest.
  for (const [parallel, bound] of [
    [4, 0.04],
    [16, 0.03],
  ] as const) {
    it(`gets under ${bound * 100}% of the calls after warm-up with ${parallel} in flight, and its share back once it is fast again`, async () => {
      const lagging: Behaviour = { status: 200, delay: 20 };
      const { hits, getUser } = await cluster([healthy, healthy, lagging], {});
      await load((index) => getUser({ id: index }), 300, parallel);
      const before = hits[2]!;
      const { failed } = await load((index) => getUser({ id: index }), 3000, parallel);
      expect(failed).toBe(0);
      const share = (hits[2]! - before) / 3000;
      console.info(`slow instance share after warm-up, ${parallel} in flight: ${(share * 100).toFixed(2)}%`);
      expect(share).toBeLessThan(bound);
      // Fast again: within 256 × 3 answers a call probes it (its estimate is stale) and
      // its answer replaces the estimate; counted in calls, not time.
      lagging.delay = 0;
      await load((index) => getUser({ id: index }), 1000, parallel);
      const back = hits[2]!;
      await load((index) => getUser({ id: index }), 1500, parallel);
      const recovered = (hits[2]! - back) / 1500;
      console.info(`its share once fast again: ${(recovered * 100).toFixed(1)}%`);
      // Back in the rotation: 22–44% alone, 9–14% seen in a full suite run with other files
      // sharing the two cores (one slow sample under load sends it back until its estimate is
      // stale again). Still slow it gets under 2%, so 5% tells the two apart.
      expect(recovered).toBeGreaterThan(0.05);
    }, 30_000);
  }

  it('gets its third with round-robin (what the default avoids)', async () => {
    const { hits, getUser } = await cluster([healthy, healthy, slow], { outlierDetection: false, balancer: 'round-robin' });
    await load((index) => getUser({ id: index }), 300, 4);
    expect(hits[2]! / 300).toBeGreaterThan(0.3);
  }, 20_000);
});

describe('an instance that answers 500 but passes its pings', () => {
  const broken: Behaviour = { status: 500, delay: 0 };

  it('is ejected after consecutive failures, shown in peers() and events, and restored when its time is up', async () => {
    const { client, urls, getUser } = await cluster([healthy, healthy, broken], {
      outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 400 },
    });
    const events: string[] = [];
    const record = (kind: string) => (instance: InstanceInfo) => events.push(`${kind} ${instance.url}`);
    client.micro.on('ejected', record('ejected')).on('restored', record('restored'));
    // Calls until it has been ejected (the balancer decides how soon it is picked three times in
    // a row: 200 calls were not always enough), at most 2,000, one at a time.
    let failed = 0;
    for (let index = 0; index < 2000 && !events.includes(`ejected ${urls[2]}`); index += 50) failed += (await load((call) => getUser({ id: index + call }), 50, 1)).failed;
    expect(events[0]).toBe(`ejected ${urls[2]}`);
    // The three in a row that eject it, and three more each time it came back mid-run.
    const ejections = events.filter((event) => event === `ejected ${urls[2]}`).length;
    expect(failed).toBeLessThanOrEqual(3 * (ejections + 1));
    // Restored last: it may have come back mid-run and been ejected again (longer) since.
    await waitFor(() => events[events.length - 1] === `restored ${urls[2]}`, 'the broken instance restored', 5000);
    const view = client.micro.peers().find((peer) => peer.url === urls[2]);
    expect(view).toMatchObject({ status: 'UP', ejected: false });
  }, 20_000);

  it('fails a third of the calls without ejection (what ejection prevents)', async () => {
    const { getUser } = await cluster([healthy, healthy, broken], { outlierDetection: false, balancer: 'round-robin' });
    const { failed } = await load((index) => getUser({ id: index }), 200, 1);
    expect(failed).toBeGreaterThanOrEqual(66);
    expect(failed).toBeLessThanOrEqual(67);
  }, 20_000);

  it('never ejects more than half of a service: with both instances broken, one stays', async () => {
    const { client, getUser } = await cluster([broken, broken], { outlierDetection: { consecutiveFailures: 2, baseEjectionTime: 60_000 } });
    const { errors } = await load((index) => getUser({ id: index }), 40, 1);
    expect(errors).toHaveLength(40);
    for (const error of errors) expect(error).toMatchObject({ name: 'RemoteError', status: 500 });
    expect(client.micro.peers().filter((peer) => peer.service === 'user-service' && peer.ejected)).toHaveLength(1);
  }, 20_000);
});

describe('retries on 502, 503 and 504', () => {
  const unavailable: Behaviour = { status: 503, delay: 0 };

  it('move an idempotent call to another instance, and never a POST', async () => {
    const { hits, getUser, createUser } = await cluster([unavailable, healthy], { outlierDetection: false, balancer: 'round-robin' });
    const gets = await load((index) => getUser({ id: index }), 40, 1);
    expect(gets.failed).toBe(0);
    const before = [...hits];
    const posts = await load((index) => createUser({ id: index, name: 'x' }), 40, 1);
    expect(posts.failed).toBe(20); // round-robin sends half to the 503 instance, and they are not retried
    expect(hits[0]! - before[0]! + hits[1]! - before[1]!).toBe(40);
  }, 20_000);

  it('are capped by the retry budget when every instance fails', async () => {
    const calls = 300;
    const capped = await cluster([unavailable, unavailable, unavailable], { outlierDetection: false, retries: 2, retryBudget: { ratio: 0.2, minPerSecond: 1 } });
    await load((index) => capped.getUser({ id: index }), calls, 4);
    const sent = capped.hits.reduce((sum, count) => sum + count, 0);
    // 300 first attempts, plus at most 20% of them and 1 a second over the 10 s window.
    expect(sent).toBeGreaterThanOrEqual(calls);
    expect(sent).toBeLessThanOrEqual(calls + 0.2 * calls + 10);
    await stopAll();

    const uncapped = await cluster([unavailable, unavailable, unavailable], { outlierDetection: false, retries: 2, retryBudget: false });
    await load((index) => uncapped.getUser({ id: index }), calls, 4);
    expect(uncapped.hits.reduce((sum, count) => sum + count, 0)).toBe(3 * calls);
  }, 30_000);
});

describe('hedging (opt-in)', () => {
  /** Two instances; `stall.on` makes the second hold every answer until the test ends. */
  async function stallingPair(options: ExpressMicroOptions) {
    const stall = { on: false, held: [] as Array<() => void> };
    let hits = 0;
    const first = await startService('user-service', (app) => app.get('/users/:id', (req, res) => res.json({ id: req.params.id, by: 'first' })));
    const second = await startService('user-service', (app) => {
      app.get('/users/:id', (req, res) => {
        hits++;
        const answer = () => res.json({ id: req.params.id, by: 'second' });
        if (stall.on) stall.held.push(answer);
        else answer();
      });
    }, { peers: [first.url] });
    const client = await startService('order-service', () => {}, { peers: [first.url], balancer: 'round-robin', attemptTimeout: false, outlierDetection: false, ...options });
    await waitFor(() => upInstances(client.micro, 'user-service').length === 2, 'both user-service instances UP');
    const getUser = client.micro.services.userService.getUser!;
    // Enough answers for a p95 to hedge on.
    for (let index = 0; index < 20; index++) await getUser({ id: index });
    stall.on = true;
    const release = () => stall.held.splice(0).forEach((answer) => answer());
    return { getUser, stall, release, hits: () => hits, second };
  }

  it('answers from another instance when the first stalls past the p95', async () => {
    const pair = await stallingPair({ hedge: true, timeout: 2000 });
    try {
      const { failed } = await load((index) => pair.getUser({ id: index }), 10, 1);
      expect(failed).toBe(0);
      expect(pair.stall.held.length).toBeGreaterThanOrEqual(4); // half the calls went to the stalled one first
    } finally {
      pair.release();
    }
  }, 20_000);

  it('does not hedge unless asked (the stalled calls time out), and a call can ask on its own', async () => {
    const pair = await stallingPair({ timeout: 300 });
    try {
      const { failed } = await load((index) => pair.getUser({ id: index }), 10, 1);
      expect(failed).toBeGreaterThanOrEqual(4);
      const asked = await load((index) => pair.getUser({ id: index }, { hedge: true, timeout: 2000 }), 10, 1);
      expect(asked.failed).toBe(0);
    } finally {
      pair.release();
    }
  }, 20_000);
});
