// Section 5b of `npm run bench` (`bash scripts/bench tail`): the tail with one slow instance, in the
// shape of issue 22. Three user-service instances, each its own Node process
// (scripts/bench-child.mjs), one caller in this process. For each concurrency (4 and 16 calls in
// flight) and each round, interleaved, two measurements, each with a fresh caller on default
// options: 500 GETs of warm-up, then a fixed count of GETs (4,000), with
//   healthy   every instance answers at once
//   slow      one instance answers 20 ms late
// Every figure is a ratio to the healthy cluster of the same round and concurrency. Counted at the
// servers (each child counts the GET /users/:id requests it received): the slow instance's share of
// the measured calls and the extra requests (retries, hedges, probes: received minus calls made).
// After the slow measurement at 4 in flight, the slow instance is made fast again and the same
// caller goes on calling: the time until the instance's share of a 250 ms window is back to at
// least 2/3 of a fair third (bounded at 15 s).
//
// Why this and section 5 (bench-gray.mjs) disagreed: docs/performance.md, "Tail with one slow instance".
//
// Targets: p99 <= 1.5x healthy at 4 and 16 in flight; throughput >= 0.9x; slow share <= 0.5%;
// extra requests <= 2% of calls; back to a normal share within 10 s.
//
// Environment: BENCH_ROUNDS (3), BENCH_TAIL_CALLS (4000), BENCH_TAIL_WARMUP (500),
// BENCH_TAIL_INFLIGHT (comma-separated, "4,16"), BENCH_TAIL_DELAY (20 ms).
import process from 'node:process';
import express from 'express';
import { closeServer, envNumber, fmt, HOST, killChildren, listen, loadExpressMicro, median, now, quantile, record, SECRET, spawnChild, table, waitFor } from './bench-lib.mjs';

const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const CALLS = envNumber('BENCH_TAIL_CALLS', 4000);
const WARMUP = envNumber('BENCH_TAIL_WARMUP', 500);
const DELAY = envNumber('BENCH_TAIL_DELAY', 20);
const INFLIGHTS = (process.env.BENCH_TAIL_INFLIGHT || '4,16').split(',').map(Number);
const RECOVERY_WINDOW_MS = 250;
const RECOVERY_LIMIT_MS = 15_000;
const RECOVERED_SHARE = 2 / 9; // 2/3 of a fair third

const expressMicro = await loadExpressMicro();

/** Calls `getUser` `count` times, `inflight` at a time; latencies (ms) in `latencies` from `offset`. */
async function drive(getUser, count, inflight, latencies) {
  let issued = 0;
  let completed = 0;
  let failed = 0;
  const worker = async () => {
    while (issued < count) {
      const id = issued++;
      const begun = now();
      try {
        await getUser({ id });
      } catch {
        failed++;
      }
      if (latencies) latencies[completed] = now() - begun;
      completed++;
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  return { completed, failed };
}

async function served(children) {
  const stats = await Promise.all(children.map((child) => child.stats()));
  return stats.map((stat) => stat.served);
}

async function measure(seed, children, victim, inflight, recover) {
  const app = express();
  const micro = expressMicro(app, { serviceName: 'order-service', host: HOST, secret: SECRET, logger: false, pingInterval: 1000, peers: [seed] });
  const server = await listen(app);
  try {
    await waitFor(() => micro.peers().filter((peer) => peer.service === 'user-service' && peer.status === 'UP').length === 3, 'the caller sees 3 user-service instances');
    const getUser = micro.services.userService.getUser;
    await drive(getUser, WARMUP, inflight);
    const before = await served(children);
    const latencies = new Float64Array(CALLS);
    const started = now();
    const { completed, failed } = await drive(getUser, CALLS, inflight, latencies);
    const elapsed = now() - started;
    const after = await served(children);
    const received = after.map((count, index) => count - before[index]);
    const total = received.reduce((sum, count) => sum + count, 0);
    const sorted = latencies.subarray(0, completed).sort();
    const result = {
      throughput: (completed / elapsed) * 1000,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      share: received[children.indexOf(victim)] / completed,
      extra: (total - completed) / completed,
      failed: failed / completed,
      recovery: NaN,
    };
    if (recover) result.recovery = await recovery(getUser, victim, inflight);
    return result;
  } finally {
    await micro.close();
    await closeServer(server);
  }
}

/** Makes the victim fast and calls on until its share of a window is back to normal; ms taken. */
async function recovery(getUser, victim, inflight) {
  const ack = victim.next('mode');
  victim.command('mode 200 0');
  await ack;
  const fastAt = now();
  let stop = false;
  let fromVictim = 0;
  let calls = 0;
  const worker = async () => {
    for (let id = 0; !stop && now() - fastAt < RECOVERY_LIMIT_MS; id++) {
      try {
        const user = await getUser({ id });
        if (user.port === victim.port) fromVictim++;
      } catch {}
      calls++;
    }
  };
  const workers = Promise.all(Array.from({ length: inflight }, worker));
  let recoveredAt = Infinity;
  while (now() - fastAt < RECOVERY_LIMIT_MS) {
    fromVictim = 0;
    calls = 0;
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_WINDOW_MS));
    if (calls > 0 && fromVictim / calls >= RECOVERED_SHARE) {
      recoveredAt = now() - fastAt;
      break;
    }
  }
  stop = true;
  await workers;
  return recoveredAt;
}

async function setMode(victim, mode) {
  const ack = victim.next('mode');
  victim.command(`mode ${mode}`);
  await ack;
}

try {
  const first = await spawnChild({ serviceName: 'user-service', pingInterval: 1000 });
  const children = [first, await spawnChild({ serviceName: 'user-service', pingInterval: 1000, peers: [first.url] }), await spawnChild({ serviceName: 'user-service', pingInterval: 1000, peers: [first.url] })];
  const victim = children[2];
  victim.port = Number(new URL(victim.url).port);
  const results = new Map();
  for (const inflight of INFLIGHTS) results.set(inflight, { healthy: [], slow: [] });
  for (let round = 0; round < ROUNDS; round++) {
    for (const inflight of INFLIGHTS) {
      const bucket = results.get(inflight);
      await setMode(victim, '200 0');
      bucket.healthy.push(await measure(first.url, children, victim, inflight, false));
      await setMode(victim, `200 ${DELAY}`);
      bucket.slow.push(await measure(first.url, children, victim, inflight, inflight === INFLIGHTS[0]));
      await setMode(victim, '200 0');
    }
    console.log(`  [tail] round ${round + 1}/${ROUNDS} done`);
  }
  const rows = [];
  const range = (values, format) => {
    const finite = values.filter((value) => !Number.isNaN(value));
    if (finite.length === 0) return 'n/a';
    const low = Math.min(...finite);
    const high = Math.max(...finite);
    return low === high ? format(low) : `${format(low)}–${format(high)}`;
  };
  const pct = (value) => `${(value * 100).toFixed(2)}%`;
  const verdicts = [];
  for (const inflight of INFLIGHTS) {
    const { healthy, slow } = results.get(inflight);
    const ratios = (key) => slow.map((result, index) => result[key] / healthy[index][key]);
    const p99 = ratios('p99');
    const throughput = ratios('throughput');
    rows.push([
      `${inflight} in flight`,
      range(healthy.map((result) => result.p99), (value) => value.toFixed(1)),
      range(slow.map((result) => result.p99), (value) => value.toFixed(1)),
      range(p99, fmt.ratio),
      range(throughput, fmt.ratio),
      range(slow.map((result) => result.share), pct),
      range(slow.map((result) => result.extra), pct),
      range(slow.map((result) => result.recovery), (value) => (Number.isFinite(value) ? `${(value / 1000).toFixed(2)} s` : 'timeout')),
      range(slow.map((result) => result.failed), pct),
    ]);
    verdicts.push(
      { target: `slow instance, ${inflight} in flight: p99 <= 1.50x of healthy`, measured: fmt.ratio(median(p99)), ok: median(p99) <= 1.5 },
      { target: `slow instance, ${inflight} in flight: throughput >= 0.90x of healthy`, measured: fmt.ratio(median(throughput)), ok: median(throughput) >= 0.9 },
      { target: `slow instance, ${inflight} in flight: its share <= 0.5% of calls`, measured: pct(median(slow.map((result) => result.share))), ok: median(slow.map((result) => result.share)) <= 0.005 },
      { target: `slow instance, ${inflight} in flight: extra requests <= 2% of calls`, measured: pct(median(slow.map((result) => result.extra))), ok: median(slow.map((result) => result.extra)) <= 0.02 },
    );
    if (inflight === INFLIGHTS[0]) {
      const recovered = median(slow.map((result) => result.recovery));
      verdicts.push({ target: 'slow instance fast again: normal share within 10 s', measured: Number.isFinite(recovered) ? `${(recovered / 1000).toFixed(2)} s` : 'timeout', ok: recovered <= 10_000 });
    }
  }
  table(
    `Tail with one slow instance: 3 instances (separate processes), ${WARMUP} GETs of warm-up then ${CALLS}, fresh caller, default options, ${ROUNDS} rounds (range over rounds)`,
    ['calls in flight', 'healthy p99 ms', 'slow p99 ms', 'p99 vs healthy', 'throughput vs healthy', 'slow share', 'extra requests', 'back to normal', 'failed'],
    rows,
    [`slow: one instance answers ${DELAY} ms late. Share and extra requests counted at the servers. "back to normal": after the slow measurement the instance is made fast; time until its share of a ${RECOVERY_WINDOW_MS} ms window is >= ${(RECOVERED_SHARE * 100).toFixed(0)}% (measured at ${INFLIGHTS[0]} in flight).`],
  );
  for (const verdict of verdicts) record({ section: 'tail', ...verdict });
} finally {
  await killChildren();
}
