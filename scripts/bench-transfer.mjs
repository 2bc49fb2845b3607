// `bash scripts/bench transfer`: a 64 MiB answer streamed through express-micro against undici's
// own body stream, in the same run (Node). The target is scripts/bench-child.mjs in its own Node
// process (GET /export: 64 MiB of application/octet-stream, written as the socket takes it); this
// process is the caller and reads each answer to its end as it arrives, keeping nothing:
//   express-micro  services.target.$call('GET', '/export', undefined, { responseType: 'stream' })
//   undici         pool.request({ path: '/export' }) and its body read with for await
// Per round, in an order shuffled per round: MB/s (64 MiB over the wall time from the call to the
// last byte) and the caller's RSS growth (the most RSS rose above what it was before the call,
// sampled every 4 MiB, no forced collection). The table shows medians over rounds; the verdicts
// are express-micro's MB/s as a ratio of undici's (target ≥ 0.9) and its RSS growth (< 32 MiB).
// Environment: BENCH_TRANSFER_ROUNDS (7).
import process from 'node:process';
import express from 'express';
import { HOST, envNumber, fmt, killChildren, listen, closeServer, loadExpressMicro, median, record, runtime, spawnChild, table, waitFor } from './bench-lib.mjs';

const ROUNDS = envNumber('BENCH_TRANSFER_ROUNDS', 7);
const SIZE = 64 * 1024 * 1024;
const SAMPLE_EVERY = 4 * 1024 * 1024;

async function measure(open) {
  const before = process.memoryUsage.rss();
  let peak = before;
  let bytes = 0;
  let next = SAMPLE_EVERY;
  const started = performance.now();
  for await (const chunk of await open()) {
    bytes += chunk.byteLength;
    if (bytes >= next) {
      next += SAMPLE_EVERY;
      const rss = process.memoryUsage.rss();
      if (rss > peak) peak = rss;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  if (bytes !== SIZE) throw new Error(`read ${bytes} bytes, expected ${SIZE}`);
  return { mbps: SIZE / 1e6 / seconds, growth: peak - before };
}

try {
  const expressMicro = await loadExpressMicro();
  const target = await spawnChild({ serviceName: 'target', pingInterval: 1000 });
  const app = express();
  const micro = expressMicro(app, { serviceName: 'bench-transfer', host: HOST, secret: 'bench-secret-0123456789abcdef0123456789abcdef', logger: false, peers: [target.url], pingInterval: 1000 });
  const server = await listen(app);
  await waitFor(() => micro.peers().some((peer) => peer.service === 'target' && peer.status === 'UP'), 'the target is UP', 15_000);
  const { Pool } = await import('undici');
  const pool = new Pool(target.url, { connections: 4 });
  const clients = [
    { name: 'express-micro', what: "$call('GET', '/export', undefined, { responseType: 'stream' })", open: () => micro.services.target.$call('GET', '/export', undefined, { responseType: 'stream', timeout: 60_000 }) },
    { name: 'undici Pool.request', what: "pool.request({ path: '/export' }).body", open: async () => (await pool.request({ path: '/export', method: 'GET' })).body },
  ];
  const results = new Map(clients.map((client) => [client.name, { mbps: [], growth: [] }]));
  // One warm-up transfer each: loading and compiling are not the transfer's cost.
  for (const client of clients) await measure(client.open);
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...clients].sort(() => Math.random() - 0.5);
    for (const client of order) {
      const { mbps, growth } = await measure(client.open);
      results.get(client.name).mbps.push(mbps);
      results.get(client.name).growth.push(growth);
    }
  }
  const rows = clients.map((client) => {
    const { mbps, growth } = results.get(client.name);
    return [client.name, fmt.num(median(mbps), 0), fmt.num(median(growth) / 1048576, 1), fmt.num(Math.max(...growth) / 1048576, 1), client.what];
  });
  const ours = results.get('express-micro');
  const theirs = results.get('undici Pool.request');
  const ratio = median(ours.mbps.map((value, index) => value / theirs.mbps[index]));
  const worst = Math.max(...ours.growth);
  table(
    `Transfer: a 64 MiB answer streamed to the caller (${runtime}, ${ROUNDS} rounds, medians)`,
    ['client', 'MB/s', 'RSS growth MiB', 'worst MiB', 'call'],
    rows,
    [`express-micro / undici throughput: ${fmt.ratio(ratio)} (per-round ratios, median); RSS growth is the caller's, sampled every 4 MiB.`],
  );
  record({ section: 'transfer', target: '64 MiB streamed: MB/s vs undici ≥ 0.90×', measured: fmt.ratio(ratio), ok: ratio >= 0.9 });
  record({ section: 'transfer', target: '64 MiB streamed: caller RSS growth < 32 MiB', measured: `${fmt.num(worst / 1048576, 1)} MiB (worst round)`, ok: worst < 32 * 1048576 });
  await pool.close();
  await micro.close();
  await closeServer(server);
} finally {
  await killChildren();
}
