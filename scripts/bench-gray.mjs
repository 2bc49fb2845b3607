// Section 5 of `npm run bench`: calls under gray failure. Three user-service instances, each its
// own Node process (scripts/bench-child.mjs), one caller in this process with 4 calls in flight.
// Scenarios, interleaved round by round, each with a fresh caller (no load or ejection state
// carried over) and each measured as a ratio to the all-healthy cluster of the same round:
//   healthy            every instance answers at once
//   slow               one instance answers 20 ms late (a GC pause, a noisy neighbour)
//   slow, round-robin  the same with balancer: 'round-robin', for reference
//   broken             one instance answers 500 to every call but passes its pings
// Targets: slow throughput >= 0.8x and p99 <= 1.5x of healthy; broken: <= 1% of GETs fail. The
// slow instance's share of the calls, counted at the servers, is shown beside them: see section 5b
// (bench-tail.mjs) for the shape of issue 22, and docs/performance.md for why the two differed.
//
// Environment: BENCH_ROUNDS (5), BENCH_GRAY_MS (2000 per measurement), BENCH_GRAY_MAX (20000
// calls at most per measurement), BENCH_INFLIGHT_GRAY (4).
import express from 'express';
import { closeServer, envNumber, fmt, HOST, killChildren, listen, loadExpressMicro, median, now, quantile, record, SECRET, spawnChild, table, waitFor } from './bench-lib.mjs';

const ROUNDS = envNumber('BENCH_ROUNDS', 5);
const DURATION = envNumber('BENCH_GRAY_MS', 2000);
const MAX_CALLS = envNumber('BENCH_GRAY_MAX', 20_000);
const INFLIGHT = envNumber('BENCH_INFLIGHT_GRAY', 4);

const expressMicro = await loadExpressMicro();
const SCENARIOS = [
  { name: 'healthy', mode: '200 0', options: {} },
  { name: 'slow', mode: '200 20', options: {} },
  { name: 'slow, round-robin', mode: '200 20', options: { balancer: 'round-robin' } },
  { name: 'broken', mode: '500 0', options: {} },
];

async function measure(seed, options, children, victim) {
  const app = express();
  const micro = expressMicro(app, { serviceName: 'order-service', host: HOST, secret: SECRET, logger: false, pingInterval: 200, peers: [seed], ...options });
  const server = await listen(app);
  try {
    await waitFor(() => micro.peers().filter((peer) => peer.service === 'user-service' && peer.status === 'UP').length === 3, 'the caller sees 3 user-service instances');
    const getUser = micro.services.userService.getUser;
    const before = (await Promise.all(children.map((child) => child.stats()))).map((stat) => stat.served);
    const latencies = new Float64Array(MAX_CALLS);
    let issued = 0;
    let completed = 0;
    let failed = 0;
    const started = now();
    const stopAt = started + DURATION;
    const worker = async () => {
      while (issued < MAX_CALLS && now() < stopAt) {
        const id = issued++;
        const begun = now();
        try {
          await getUser({ id });
        } catch {
          failed++;
        }
        latencies[completed++] = now() - begun;
      }
    };
    await Promise.all(Array.from({ length: INFLIGHT }, worker));
    const elapsed = now() - started;
    const sorted = latencies.subarray(0, completed).sort();
    const after = (await Promise.all(children.map((child) => child.stats()))).map((stat) => stat.served);
    const share = (after[children.indexOf(victim)] - before[children.indexOf(victim)]) / completed;
    return { throughput: (completed / elapsed) * 1000, p99: quantile(sorted, 0.99), failed, completed, share };
  } finally {
    await micro.close();
    await closeServer(server);
  }
}

try {
  const first = await spawnChild({ serviceName: 'user-service', pingInterval: 1000 });
  const others = [await spawnChild({ serviceName: 'user-service', pingInterval: 1000, peers: [first.url] }), await spawnChild({ serviceName: 'user-service', pingInterval: 1000, peers: [first.url] })];
  const victim = others[1];
  const children = [first, ...others];
  const results = new Map(SCENARIOS.map((scenario) => [scenario.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of SCENARIOS) {
      const ack = victim.next('mode');
      victim.command(`mode ${scenario.mode}`);
      await ack;
      results.get(scenario.name).push(await measure(first.url, scenario.options, children, victim));
    }
    const ack = victim.next('mode');
    victim.command('mode 200 0');
    await ack;
    console.log(`  [gray] round ${round + 1}/${ROUNDS} done`);
  }
  // Ratios per round (each against the healthy cluster of the same round), then their median.
  const healthy = results.get('healthy');
  const ratio = (name, key) => median(results.get(name).map((result, index) => result[key] / healthy[index][key]));
  const failure = (name) => median(results.get(name).map((result) => result.failed / Math.max(1, result.completed)));
  const rows = SCENARIOS.map(({ name }) => [
    name,
    fmt.int(median(results.get(name).map((result) => result.throughput))),
    fmt.ratio(ratio(name, 'throughput')),
    fmt.num(median(results.get(name).map((result) => result.p99)), 1),
    fmt.ratio(ratio(name, 'p99')),
    `${(failure(name) * 100).toFixed(2)}%`,
    `${(median(results.get(name).map((result) => result.share)) * 100).toFixed(2)}%`,
    fmt.int(median(results.get(name).map((result) => result.completed))),
  ]);
  table(
    `Gray failure: 3 instances (separate processes), ${INFLIGHT} calls in flight, ${DURATION} ms per measurement, median of ${ROUNDS} rounds`,
    ['scenario', 'calls/s', 'throughput vs healthy', 'p99 ms', 'p99 vs healthy', 'failed', 'third instance\'s share', 'calls measured'],
    rows,
    ['slow: one instance answers 20 ms late; broken: one answers 500 but passes its pings. A fresh caller for each measurement, warm-up included.', 'The share is of the requests the third (slow or broken) instance received, counted at the servers. The p99 of a measurement is its 1% slowest: it reaches the slow instance\'s 20 ms only when that instance gets more than 1% of the calls measured (section 5b, bench-tail.mjs).'],
  );
  const slowThroughput = ratio('slow', 'throughput');
  const slowP99 = ratio('slow', 'p99');
  const brokenFailed = failure('broken');
  record({ section: 'gray', target: 'slow instance: throughput >= 0.80x of healthy', measured: fmt.ratio(slowThroughput), ok: slowThroughput >= 0.8 });
  record({ section: 'gray', target: 'slow instance: p99 <= 1.50x of healthy', measured: fmt.ratio(slowP99), ok: slowP99 <= 1.5 });
  record({ section: 'gray', target: 'broken instance: <= 1% of GETs fail', measured: `${(brokenFailed * 100).toFixed(2)}%`, ok: brokenFailed <= 0.01 });
} finally {
  await killChildren();
}
