// `bash scripts/bench events`: what an event costs against a direct call, in the same run
// (docs/events.md, docs/performance.md). Node only; everything on 127.0.0.1.
//
// An order-service and an email-service run in this process. Per transport (the direct call
// first, the baseline; then `emit` over the cluster; then `emit` through Redis Streams when
// `redis-server` is on PATH, started here on a free port in a temp folder and stopped after):
//   latency   one at a time, BENCH_EVENTS_SEQUENTIAL (1,000) per round: from the call or `emit`
//             to the handler starting, p50 and p99;
//   rate      BENCH_EVENTS_BURST (4,000) with 32 in flight: handled per second.
// BENCH_EVENTS_REDIS=0 leaves Redis out.
// Rounds (BENCH_ROUNDS, 3) interleave the transports; each figure is the median of the rounds,
// and the table gives it as a ratio to the direct call of the same rounds.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { HOST, SECRET, closeServer, envNumber, fmt, freePort, listen, loadExpressMicro, median, now, quantile, record, table, waitFor } from './bench-lib.mjs';

const SEQUENTIAL = envNumber('BENCH_EVENTS_SEQUENTIAL', 1000);
const BURST = envNumber('BENCH_EVENTS_BURST', 4000);
const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const IN_FLIGHT = 32;
const expressMicro = await loadExpressMicro();
const base = { host: HOST, secret: SECRET, logger: false, pingInterval: 500 };

/** A redis-server of our own, or undefined when there is none on PATH. */
async function startRedis() {
  if (process.env.BENCH_EVENTS_REDIS === '0' || spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'bench-events-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://${HOST}:${port}`;
  await waitFor(() => spawnSync('redis-cli', ['-h', HOST, '-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG', 'redis-server answering', 10_000, 50);
  return {
    url,
    stop: async () => {
      child.kill('SIGKILL');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An order-service and an email-service; `arrived(payload)` runs in the email-service's handler and route. */
async function pair(events, arrived) {
  const emailApp = express();
  emailApp.use(express.json());
  const email = expressMicro(emailApp, { serviceName: 'email-service', ...base, ...(events ? { events } : {}) });
  emailApp.post('/mail', (req, res) => {
    arrived(req.body);
    res.json({ ok: true });
  });
  email.subscribe('order.created', (payload) => arrived(payload));
  const emailServer = await listen(emailApp);
  const ordersApp = express();
  const orders = expressMicro(ordersApp, { serviceName: 'order-service', peers: [`http://${HOST}:${emailServer.address().port}`], ...base, ...(events ? { events } : {}) });
  const ordersServer = await listen(ordersApp);
  await waitFor(() => orders.peers().some((peer) => peer.service === 'email-service' && peer.status === 'UP' && peer.events.length > 0), 'the subscriber in the table', 10_000);
  return {
    orders,
    close: async () => {
      await Promise.all([orders.close(), email.close()]);
      await Promise.all([closeServer(ordersServer), closeServer(emailServer)]);
    },
  };
}

/** One round of one transport: sequential latency, then the burst rate. */
async function round(send, setArrived) {
  const latencies = [];
  let pending;
  setArrived((payload) => {
    if (payload.seq !== undefined && pending) {
      latencies.push(now() - payload.at);
      pending();
    }
  });
  for (let index = 0; index < SEQUENTIAL; index++) {
    const handled = new Promise((resolve) => (pending = resolve));
    await send({ seq: index, at: now() });
    await handled;
  }
  let handled = 0;
  setArrived((payload) => {
    if (payload.burst !== undefined) handled++;
  });
  const started = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < BURST) await send({ burst: next++ });
    }),
  );
  await waitFor(() => handled >= BURST, 'every burst event handled', 60_000, 1);
  const seconds = (now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), rate: BURST / seconds };
}

const redis = await startRedis();
const transports = [
  { name: 'direct call (POST /mail)', events: undefined, send: (cluster) => (payload) => cluster.orders.services.emailService.$call('POST', '/mail', payload) },
  { name: 'emit, cluster', events: undefined, send: (cluster) => (payload) => cluster.orders.emit('order.created', payload) },
];
if (redis) transports.push({ name: 'emit, Redis Streams', events: { type: 'redis', url: redis.url, prefix: `bench-${Date.now()}` }, send: (cluster) => (payload) => cluster.orders.emit('order.created', payload) });

const results = new Map(transports.map((transport) => [transport.name, []]));
try {
  for (let index = 0; index < ROUNDS; index++) {
    for (const transport of transports) {
      let arrived = () => {};
      const cluster = await pair(transport.events, (payload) => arrived(payload));
      try {
        results.get(transport.name).push(await round(transport.send(cluster), (fn) => (arrived = fn)));
      } finally {
        await cluster.close();
      }
    }
  }
} finally {
  await redis?.stop();
}

const summary = (name) => {
  const rounds = results.get(name);
  return { p50: median(rounds.map((each) => each.p50)), p99: median(rounds.map((each) => each.p99)), rate: median(rounds.map((each) => each.rate)) };
};
const direct = summary(transports[0].name);
const rows = transports.map((transport) => {
  const figures = summary(transport.name);
  return [transport.name, `${figures.p50.toFixed(2)} ms`, `${figures.p99.toFixed(2)} ms`, fmt.ratio(figures.p50 / direct.p50), fmt.int(figures.rate), fmt.ratio(figures.rate / direct.rate)];
});
table(
  `Events: from the call or emit to the handler, ${SEQUENTIAL} one at a time and ${BURST} with ${IN_FLIGHT} in flight per round, median of ${ROUNDS} rounds`,
  ['transport', 'p50', 'p99', 'p50 vs call', 'handled/s', 'rate vs call'],
  rows,
  [redis ? 'Redis: a redis-server of this run, no persistence.' : 'Redis: left out (no redis-server on PATH, or BENCH_EVENTS_REDIS=0).', 'Both services run in this one Node process; the direct call is the baseline of the same rounds.'],
);
const cluster = summary('emit, cluster');
record({ section: 'events', target: 'emit over the cluster: p50 to the handler within 2× a direct call', measured: fmt.ratio(cluster.p50 / direct.p50), ok: cluster.p50 / direct.p50 <= 2 });
