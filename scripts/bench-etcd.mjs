// `bash scripts/bench etcd` (Node): the etcd registry beside gossip at the same N, in one run.
//
// N (50) services run in THIS process (Express 5 + express-micro, one app each), first with
// `registry: { type: 'etcd' }` against one real etcd member (Debian's etcd-server, started here on
// a free loopback port, data in a temp folder), then with gossip (every service seeded with svc-0,
// pingInterval 1000 ms as scripts/bench-cluster.mjs uses at N = 50). For each:
//   - full view: every service listens at t0 → the moment every one sees all N−1 others UP;
//   - join → table: one more service starts, K times; per service, listen → its `up` event
//     (p50 / p99 over N × K samples);
//   - etcd only, watch → table: a record written by hand (PUT sent) → each service's `discovered`
//     event (p50 / p99 over N × K samples);
//   - requests per instance per minute in the steady state that follows (BENCH_WINDOW_MS, 20 s):
//     etcd: requests etcd's gRPC server started (its /metrics, `grpc_server_started_total`; the
//     JSON gateway turns each HTTP request into one), gossip: discovery requests each service
//     received.
// Environment: BENCH_ETCD_N (50), BENCH_ETCD_JOINS (5), BENCH_WINDOW_MS (20000), BENCH_ETCD_TTL (10).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import express from 'express';
import { HOST, SECRET, closeServer, envNumber, fmt, freePort, listen, loadExpressMicro, quantile, sleep, table, waitFor, wall } from './bench-lib.mjs';

const N = envNumber('BENCH_ETCD_N', 50);
const JOINS = envNumber('BENCH_ETCD_JOINS', 5);
const WINDOW_MS = envNumber('BENCH_WINDOW_MS', 20_000);
const TTL = envNumber('BENCH_ETCD_TTL', 10);
const GOSSIP_INTERVAL = 1000;
const ETCD = ['/usr/bin/etcd', '/usr/local/bin/etcd'].find((path) => existsSync(path));
if (!ETCD) {
  console.log('\nbench etcd: skipped, no etcd binary (apt-get install etcd-server)');
  process.exit(0);
}
const expressMicro = await loadExpressMicro();

async function startEtcd() {
  const dir = mkdtempSync(join(tmpdir(), 'em-bench-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const endpoint = `http://${HOST}:${client}`;
  const child = spawn(ETCD, ['--name', 'b0', '--data-dir', dir, '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint, '--listen-peer-urls', `http://${HOST}:${peer}`,
    '--initial-advertise-peer-urls', `http://${HOST}:${peer}`, '--initial-cluster', `b0=http://${HOST}:${peer}`, '--log-level', 'error'], { stdio: 'ignore' });
  await waitFor(() => fetch(`${endpoint}/v3/kv/range`, { method: 'POST', body: '{"key":"aA=="}' }).then((r) => r.ok, () => false), 'etcd', 15_000, 50);
  return { endpoint, stop: () => { child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); } };
}

async function etcdStarted(endpoint) {
  const text = await (await fetch(`${endpoint}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith('grpc_server_started_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

function createNode(name, options) {
  const app = express();
  const node = { name, discovery: 0, up: new Map(), server: undefined };
  node.micro = expressMicro(app, { serviceName: name, host: HOST, secret: SECRET, logger: false, ...options });
  node.micro.on('up', (instance) => node.up.set(instance.id, wall()));
  node.micro.on('discovered', (instance) => node.up.set(instance.id, node.up.get(instance.id) ?? wall()));
  node.micro.on('removed', (instance) => node.up.delete(instance.id));
  node.app = app;
  // Discovery is served ahead of the app's middleware: count at the server.
  node.listen = async () => {
    node.server = await listen(app);
    node.server.prependListener('request', (request) => request.url.startsWith('/_discovery/') && node.discovery++);
    return node.server;
  };
  return node;
}

const b64 = (text) => Buffer.from(text).toString('base64');

async function scenario(kind, endpoint) {
  const prefix = `/bench-${Date.now()}/`;
  const optionsFor = (index) => (kind === 'etcd'
    ? { registry: { type: 'etcd', endpoints: [endpoint], prefix, ttl: TTL } }
    : { pingInterval: GOSSIP_INTERVAL, peers: index === 0 ? [] : [nodes[0].url] });
  const nodes = [];
  // Gossip needs the seed's URL first: svc-0 listens, then everyone else at t0.
  const first = createNode('svc-0', optionsFor(0));
  nodes.push(first);
  await first.listen();
  first.url = `http://${HOST}:${first.server.address().port}`;
  const t0 = wall();
  for (let index = 1; index < N; index++) nodes.push(createNode(`svc-${index}`, optionsFor(index)));
  await Promise.all(nodes.slice(1).map((node) => node.listen()));
  await waitFor(() => nodes.every((node) => node.up.size >= N - 1), `${kind}: full view`, 120_000, 20);
  const fullView = Math.max(...nodes.map((node) => Math.max(...node.up.values()))) - t0;

  const joins = [];
  for (let round = 0; round < JOINS; round++) {
    const joiner = createNode(`joiner-${round}`, optionsFor(1));
    const started = wall();
    await joiner.listen();
    await waitFor(() => nodes.every((node) => [...node.up.keys()].includes(joiner.micro.peers().find((p) => p.self)?.id)), `${kind}: join ${round}`, 60_000, 5);
    const id = joiner.micro.peers().find((p) => p.self).id;
    for (const node of nodes) joins.push(node.up.get(id) - started);
    await joiner.micro.close();
    await closeServer(joiner.server);
    await waitFor(() => nodes.every((node) => !node.up.has(id)), `${kind}: leave ${round}`, 60_000, 5);
  }

  const watch = [];
  if (kind === 'etcd') {
    for (let round = 0; round < JOINS; round++) {
      const id = `handwrit${round}${Date.now().toString(36)}`;
      const value = JSON.stringify({ protocol: 2, name: 'hand-service', id, url: `http://${HOST}:${1 + round}`, routes: [], rev: 'r', incarnation: 0 });
      const sent = wall();
      await fetch(`${endpoint}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64(`${prefix}hand-service/${id}`), value: b64(value) }) });
      await waitFor(() => nodes.every((node) => node.up.has(id)), 'watch', 30_000, 2);
      for (const node of nodes) watch.push(node.up.get(id) - sent);
      await fetch(`${endpoint}/v3/kv/deleterange`, { method: 'POST', body: JSON.stringify({ key: b64(`${prefix}hand-service/${id}`) }) });
      await waitFor(() => nodes.every((node) => !node.up.has(id)), 'watch delete', 30_000, 2);
    }
  }

  await sleep(1000);
  const before = kind === 'etcd' ? await etcdStarted(endpoint) : nodes.reduce((sum, node) => sum + node.discovery, 0);
  const windowStart = wall();
  await sleep(WINDOW_MS);
  const after = kind === 'etcd' ? await etcdStarted(endpoint) : nodes.reduce((sum, node) => sum + node.discovery, 0);
  const perInstanceMinute = ((after - before) / N) * (60_000 / (wall() - windowStart));

  await Promise.all(nodes.map((node) => node.micro.close()));
  await Promise.all(nodes.map((node) => closeServer(node.server)));
  const sorted = (values) => Float64Array.from(values).sort();
  return { fullView, joins: sorted(joins), watch: sorted(watch), perInstanceMinute };
}

const etcd = await startEtcd();
let results;
try {
  const viaEtcd = await scenario('etcd', etcd.endpoint);
  const viaGossip = await scenario('gossip');
  results = { viaEtcd, viaGossip };
} finally {
  etcd.stop();
}
const { viaEtcd, viaGossip } = results;
const p = (values, q) => quantile(values, q);
table(
  `etcd registry beside gossip, N = ${N} in one process (etcd ttl ${TTL} s; gossip pingInterval ${GOSSIP_INTERVAL} ms)`,
  ['measure', 'etcd', 'gossip', 'etcd / gossip'],
  [
    ['full view after the last start', fmt.ms(viaEtcd.fullView), fmt.ms(viaGossip.fullView), fmt.ratio(viaEtcd.fullView / viaGossip.fullView)],
    [`join → table p50 (${N} × ${JOINS})`, fmt.ms(p(viaEtcd.joins, 0.5)), fmt.ms(p(viaGossip.joins, 0.5)), fmt.ratio(p(viaEtcd.joins, 0.5) / p(viaGossip.joins, 0.5))],
    [`join → table p99`, fmt.ms(p(viaEtcd.joins, 0.99)), fmt.ms(p(viaGossip.joins, 0.99)), fmt.ratio(p(viaEtcd.joins, 0.99) / p(viaGossip.joins, 0.99))],
    [`watch → table p50 (PUT sent → event, ${N} × ${JOINS})`, fmt.ms(p(viaEtcd.watch, 0.5)), '', ''],
    ['watch → table p99', fmt.ms(p(viaEtcd.watch, 0.99)), '', ''],
    ['requests per instance per minute (steady)', fmt.num(viaEtcd.perInstanceMinute), fmt.num(viaGossip.perInstanceMinute), fmt.ratio(viaEtcd.perInstanceMinute / viaGossip.perInstanceMinute)],
  ],
  [
    'etcd requests: started at etcd (lease keepalives; the watch is one long request). Gossip: /_discovery requests received.',
    `Steady window ${WINDOW_MS / 1000} s. Every node shares this process's CPU, so absolute times include the harness.`,
  ],
);
process.exit(0);
