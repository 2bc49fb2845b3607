// Section 1 of `npm run bench`: what a `services` call costs.
//
// Runs unchanged on Node, Bun and Deno (`deno run -A`). The target service is ALWAYS the same:
// an Express 5 app with express-micro, `GET /users/:id` answering a small JSON object, in its own
// Node child process (scripts/bench-child.mjs), so only the client side changes between runtimes
// and the client gets its own core. This process runs the clients, each against that one route:
//   express-micro  `services.userService.getUser({ id })` from an Express app that joined the target
//   undici         `Pool.request` + `body.json()` (Node and Deno; Bun stubs undici)
//   fetch          the runtime's global fetch + `.json()`
//   axios          axios with a keep-alive http.Agent (what the seed used)
// Each round measures every client, in an order shuffled per round: sequential latency (p50, p99)
// for all, then throughput with 32 calls in flight for all. Every figure becomes a ratio against
// the baseline of the same round (undici on Node, fetch on Bun and Deno); the table shows medians
// over rounds. Every loop is bounded in calls and in time.
//
// BENCH_TLS=1 (Node, `bash scripts/bench tls`): the same over mutual TLS. The target serves HTTPS
// and asks for a client certificate; express-micro calls it with its `tls` option, against undici's
// Pool with the same CA and certificate (the baseline) and fetch through an undici Agent with them.
// Certificates come from openssl, made in a temp folder and removed after.
//
// Environment: BENCH_ROUNDS (7), BENCH_SEQ_MS (500), BENCH_SEQ_MAX (4000), BENCH_TPUT_MS (700),
// BENCH_INFLIGHT (32), BENCH_DIST (another build to test), BENCH_COMPARE (more builds, comma-separated
// paths to their dist/index.js, e.g. scratch copies with a proposed change: one extra row each, same rounds).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import express from 'express';
import axios from 'axios';
import { HOST, SECRET, envNumber, fmt, freePort, killChildren, listen, closeServer, loadExpressMicro, median, now, quantile, record, runtime, runtimeVersion, spawnChild, table, waitFor } from './bench-lib.mjs';

const ROUNDS = envNumber('BENCH_ROUNDS', 7);
const SEQ_MS = envNumber('BENCH_SEQ_MS', 500);
const SEQ_MAX = envNumber('BENCH_SEQ_MAX', 4000);
const TPUT_MS = envNumber('BENCH_TPUT_MS', 700);
const TPUT_MAX = 200_000;
const INFLIGHT = envNumber('BENCH_INFLIGHT', 32);
const WARMUP_CALLS = 300;
const LEAD_IN_CALLS = 50;
const RAMP_MS = 100;
const IDS = Array.from({ length: 128 }, (_, index) => index + 1);
const TLS = process.env.BENCH_TLS === '1';

/** A CA and one certificate for 127.0.0.1 that serves both sides of mutual TLS (openssl). */
function makeCertificates() {
  const folder = mkdtempSync(join(tmpdir(), 'express-micro-bench-tls-'));
  const path = (name) => join(folder, name);
  const openssl = (...args) => execFileSync('openssl', args, { cwd: folder, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    writeFileSync(path('leaf.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path('ca.key'), '-out', path('ca.pem'), '-days', '1', '-subj', '/CN=bench CA');
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path('leaf.key'), '-out', path('leaf.csr'), '-subj', '/CN=127.0.0.1');
    openssl('x509', '-req', '-in', path('leaf.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial', '-out', path('leaf.pem'), '-days', '1', '-extfile', path('leaf.cnf'));
    return { ca: readFileSync(path('ca.pem'), 'utf8'), cert: readFileSync(path('leaf.pem'), 'utf8'), key: readFileSync(path('leaf.key'), 'utf8') };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
const tls = TLS ? makeCertificates() : undefined;

/** A caller app with express-micro that joins the target and waits until user-service is UP. */
async function caller(expressMicro, target, name) {
  const app = express();
  // Over TLS the caller is a member too: it serves HTTPS, on a port chosen before the plugin starts.
  const port = tls ? await freePort() : undefined;
  const micro = expressMicro(app, { serviceName: name, host: HOST, secret: SECRET, logger: false, pingInterval: 1000, peers: [target.url], ...(tls ? { tls, port } : {}) });
  const server = tls ? await listenTls(app, port) : await listen(app);
  await micro.ready;
  await waitFor(() => micro.peers().some((peer) => peer.service === 'user-service' && peer.status === 'UP'), 'user-service UP', 10_000);
  return { micro, server };
}

async function listenTls(app, port) {
  const { createServer } = await import('node:https');
  return new Promise((resolve, reject) => {
    const server = createServer({ ...tls, requestCert: true, rejectUnauthorized: true }, app).listen(port, HOST, () => resolve(server));
    server.once('error', reject);
  });
}

/** A few untimed calls first, so that garbage the previous client left is not billed to this one. */
async function leadIn(call) {
  for (let index = 0; index < LEAD_IN_CALLS; index++) await call(index);
}

async function sequential(call) {
  await leadIn(call);
  const samples = new Float64Array(SEQ_MAX);
  let count = 0;
  let errors = 0;
  const end = now() + SEQ_MS;
  while (count < SEQ_MAX && now() < end) {
    const start = now();
    try {
      await call(count);
    } catch {
      errors++;
    }
    samples[count++] = now() - start;
  }
  const sorted = samples.subarray(0, count).sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), count, errors };
}

/** INFLIGHT workers for RAMP_MS (not counted) + TPUT_MS (counted), bounded in calls too. */
async function throughput(call) {
  let started = 0;
  let counted = 0;
  let errors = 0;
  const begin = now();
  const from = begin + RAMP_MS;
  const end = from + TPUT_MS;
  const worker = async () => {
    while (started < TPUT_MAX && now() < end) {
      const index = started++;
      try {
        await call(index);
      } catch {
        errors++;
      }
      if (now() >= from) counted++;
    }
  };
  await Promise.all(Array.from({ length: INFLIGHT }, worker));
  return { rps: counted / ((now() - from) / 1000), errors };
}

/** A seeded shuffle, so every run orders its rounds the same way. */
function shuffled(items, seed) {
  const order = [...items];
  let state = seed * 2654435761 + 1;
  for (let index = order.length - 1; index > 0; index--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const other = state % (index + 1);
    [order[index], order[other]] = [order[other], order[index]];
  }
  return order;
}

async function main() {
  const expressMicro = await loadExpressMicro();
  if (TLS && runtime !== 'node') throw new Error('BENCH_TLS runs on Node only (its baseline is undici over TLS)');
  const target = await spawnChild({ serviceName: 'user-service', pingInterval: 1000, ...(tls ? { tls } : {}) });
  const closers = [() => target.kill()];
  const clients = [];

  const main = await caller(expressMicro, target, 'bench-client');
  closers.push(() => main.micro.close(), () => closeServer(main.server));
  const services = main.micro.services;
  clients.push({ name: 'express-micro', what: 'services.userService.getUser({ id })', call: (index) => services.userService.getUser({ id: IDS[index & 127] }) });

  // BENCH_COMPARE: other builds (comma-separated paths to their index.js), one row each.
  const compare = (process.env.BENCH_COMPARE ?? '').split(',').filter(Boolean);
  for (const [position, path] of compare.entries()) {
    const other = await caller(await loadExpressMicro(path), target, `bench-compare-${position}`);
    closers.push(() => other.micro.close(), () => closeServer(other.server));
    const otherServices = other.micro.services;
    const label = path.split('/').slice(-3, -2)[0] || path;
    clients.push({ name: `express-micro (${label})`, what: path, call: (index) => otherServices.userService.getUser({ id: IDS[index & 127] }) });
  }

  let undiciNote;
  if (runtime === 'bun') undiciNote = 'undici: n/a on Bun (Bun replaces undici with a stub)';
  else {
    try {
      const { Pool } = await import('undici');
      const pool = new Pool(target.url, { connections: 64, keepAliveTimeout: 10_000, ...(tls ? { connect: { ca: tls.ca, cert: tls.cert, key: tls.key } } : {}) });
      closers.push(() => pool.close());
      clients.push({
        name: 'undici Pool.request',
        what: 'pool.request({ path, method }) + body.json()',
        call: async (index) => (await pool.request({ path: `/users/${IDS[index & 127]}`, method: 'GET' })).body.json(),
      });
    } catch (error) {
      undiciNote = `undici: n/a on ${runtime} (${error.message})`;
    }
  }
  if (!tls) {
    clients.push({ name: 'fetch', what: 'fetch(url).then(r => r.json())', call: async (index) => (await fetch(`${target.url}/users/${IDS[index & 127]}`)).json() });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    closers.push(() => agent.destroy());
    const ax = axios.create({ baseURL: target.url, adapter: 'http', httpAgent: agent, proxy: false });
    clients.push({ name: 'axios (keep-alive)', what: 'axios.get(path) with http.Agent({ keepAlive })', call: async (index) => (await ax.get(`/users/${IDS[index & 127]}`)).data });
  }

  const baseline = runtime === 'node' ? 'undici Pool.request' : 'fetch';
  // Every client must get the same answer before it is timed.
  for (const client of clients) {
    const answer = await client.call(6);
    if (answer?.id !== '7' || answer?.name !== 'Ada Lovelace') throw new Error(`${client.name} got a wrong answer: ${JSON.stringify(answer)}`);
    for (let index = 0; index < WARMUP_CALLS; index++) await client.call(index);
    await Promise.all(Array.from({ length: INFLIGHT }, (_, index) => client.call(index)));
  }

  const results = new Map(clients.map((client) => [client.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved: every round measures every client, in an order shuffled per round, latency
    // first for all of them, then throughput, so no client always follows the same neighbour.
    const latencies = new Map();
    for (const client of shuffled(clients, 2 * round + 1)) latencies.set(client, await sequential(client.call));
    for (const client of shuffled(clients, 2 * round + 2)) {
      const latency = latencies.get(client);
      const load = await throughput(client.call);
      results.get(client.name).push({ ...latency, rps: load.rps, errors: latency.errors + load.errors });
    }
    process.stderr.write(`  [calls/${runtime}] round ${round + 1}/${ROUNDS} done\n`);
  }

  const base = results.get(baseline);
  const summary = new Map();
  for (const client of clients) {
    const rounds = results.get(client.name);
    summary.set(client.name, {
      p50: median(rounds.map((r) => r.p50)),
      p99: median(rounds.map((r) => r.p99)),
      rps: median(rounds.map((r) => r.rps)),
      p50Ratio: median(rounds.map((r, index) => r.p50 / base[index].p50)),
      p99Ratio: median(rounds.map((r, index) => r.p99 / base[index].p99)),
      rpsRatio: median(rounds.map((r, index) => r.rps / base[index].rps)),
      errors: rounds.reduce((sum, r) => sum + r.errors, 0),
      calls: rounds.reduce((sum, r) => sum + r.count, 0),
    });
  }
  const over = tls ? ' over mutual TLS' : '';
  table(
    `1. Call cost${over} on ${runtime} ${runtimeVersion}: GET /users/:id, medians of ${ROUNDS} interleaved rounds, ratios vs ${baseline} in the same round`,
    ['client', 'p50', 'p50 ratio', 'p99', 'p99 ratio', `req/s @${INFLIGHT}`, 'req/s ratio', 'errors'],
    clients.map((client) => {
      const s = summary.get(client.name);
      return [client.name, fmt.us(s.p50), fmt.ratio(s.p50Ratio), fmt.us(s.p99), fmt.ratio(s.p99Ratio), fmt.int(s.rps), fmt.ratio(s.rpsRatio), String(s.errors)];
    }),
    [
      `target: Express 5 + express-micro in a separate Node ${target.node} child process on ${HOST}${tls ? ' (https.createServer, client certificates required; P-256 certificates from openssl)' : ''}; clients in this ${runtime} process.`,
      `per round and client: ${LEAD_IN_CALLS} untimed calls, then up to ${SEQ_MAX} sequential calls or ${SEQ_MS} ms; throughput: ${INFLIGHT} calls in flight, ${RAMP_MS} ms ramp, ${TPUT_MS} ms counted.`,
      'client order shuffled per round (seeded); ratios are taken per round, then the median over rounds.',
      ...(undiciNote ? [undiciNote] : []),
    ],
  );

  const micro = summary.get('express-micro');
  // Node's baseline is the same undici pool the library uses: its calls must cost what it costs.
  const p50Target = runtime === 'node' ? 1.05 : 1.1;
  const checks = [
    { target: `p50 ≤ ${p50Target.toFixed(2)}× ${baseline}`, value: micro.p50Ratio, ok: micro.p50Ratio <= p50Target },
    { target: `throughput ≥ 0.90× ${baseline}`, value: micro.rpsRatio, ok: micro.rpsRatio >= 0.9 },
    { target: 'no failed calls', value: micro.errors, ok: micro.errors === 0, plain: true },
  ];
  table(
    `1. Call-cost targets${over} on ${runtime}`,
    ['target', 'measured', 'verdict'],
    checks.map((check) => [check.target, check.plain ? String(check.value) : fmt.ratio(check.value), fmt.verdict(check.ok)]),
    [],
  );
  for (const check of checks) record({ section: tls ? 'calls-tls' : 'calls', target: check.target, measured: check.plain ? String(check.value) : fmt.ratio(check.value), ok: check.ok });
  if (!tls) record({ section: 'calls-table', rows: [...summary].map(([name, s]) => ({ name, ...s })), baseline });

  for (const close of closers.reverse()) await Promise.resolve().then(close).catch(() => {});
}

try {
  await main();
} catch (error) {
  console.error(`bench-calls (${runtime}) failed:`, error);
  process.exitCode = 1;
} finally {
  await killChildren();
  // Keep-alive sockets of fetch/axios may hold Bun and Deno open.
  process.exit(process.exitCode ?? 0);
}
