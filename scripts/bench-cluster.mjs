// Sections 2–4 of `npm run bench` (Node): how fast a cluster converges, how fast it notices a
// crash, whether calls survive one, and what membership costs a node as the cluster grows.
//
// For each N in 10, 25, 50 (the order rotates each round, rounds interleave the sizes):
//   - N−1 services run in THIS process (Express 5 + express-micro, one app each, service names
//     svc-0…), and one more in its own Node process (scripts/bench-child.mjs): the victim.
//     Every service gets only svc-0 as its peer. All of them start listening at t0.
//   - convergence: t0 → the moment every service (the child included) sees all N−1 others UP.
//   - membership cost, in the steady state that follows: discovery requests each node receives
//     per second (a counting middleware on /_discovery), and the child's RSS and CPU (a real
//     single-service process), with the growth against N = 10.
//   - detection: SIGKILL the child → the moment every survivor has marked it DOWN.
// Failover: two instances of user-service (child processes), one in-process caller with 32
// `getUser` calls in flight, one instance SIGKILLed mid-run; every failed call is counted.
//
// pingInterval: max(200 ms, 20 ms × N), so 200 / 500 / 1000 ms for N = 10 / 25 / 50. The whole
// cluster shares this process's one core, so it must do the work of N nodes: ~0.6 ms of CPU per
// register exchange (N²/2 of them when a cluster forms) and N(N−1) pings per interval. At 200 ms
// for every N, N = 25 and 50 saturate this process (the harness, not any one node) and pings time
// out; 20 ms × N keeps the harness near 50·(N−1) pings/s. Results are given in ping intervals.
//
// Environment: BENCH_ROUNDS (3), BENCH_PING_INTERVAL (one interval for every N instead),
// BENCH_SIZES (10,25,50), BENCH_WINDOW_MS (minimum window, 2000), BENCH_DIST (another build).
import process from 'node:process';
import express from 'express';
import { HOST, SECRET, envNumber, fmt, killChildren, listen, closeServer, loadExpressMicro, median, record, sleep, spawnChild, table, wall, waitFor } from './bench-lib.mjs';

const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const FIXED_INTERVAL = envNumber('BENCH_PING_INTERVAL', 0);
const intervalFor = (size) => FIXED_INTERVAL || Math.max(200, Math.ceil((20 * size) / 100) * 100);
const FAILOVER_INTERVAL = FIXED_INTERVAL || 200;
const SIZES = (process.env.BENCH_SIZES ?? '10,25,50').split(',').map(Number);
const WINDOW_MS = envNumber('BENCH_WINDOW_MS', 2000);
const FAILOVER_ROUNDS = envNumber('BENCH_FAILOVER_ROUNDS', ROUNDS);
const INFLIGHT = 32;
const CONVERGE_TARGET = 2;
const OUT_TARGET = 2;
/** The longest suspicion (6 × 4 × max(1, log10 N) intervals) plus 2 intervals to notice and spread. */
const downBound = (size) => 24 * Math.max(1, Math.log10(size)) + 2;

const expressMicro = await loadExpressMicro();

/** An in-process service that tracks, from express-micro's events, which others it sees UP. */
function createNode(name, peers, interval) {
  const app = express();
  const node = { name, discovery: 0, up: new Set(), completeAt: undefined, expect: 0, downs: [], suspects: [], server: undefined, url: undefined };
  node.micro = expressMicro(app, { serviceName: name, host: HOST, secret: SECRET, logger: false, pingInterval: interval, peers });
  app.get('/users/:id', (request, response) => response.json({ id: request.params.id }));
  const update = () => {
    if (node.up.size >= node.expect) node.completeAt ??= wall();
    else node.completeAt = undefined;
  };
  node.micro.on('up', (instance) => {
    if (instance.self) return;
    node.up.add(instance.id);
    update();
  });
  node.micro.on('down', (instance) => {
    node.up.delete(instance.id);
    node.downs.push({ id: instance.id, at: wall() });
    update();
  });
  node.micro.on('suspect', (instance) => node.suspects.push({ id: instance.id, at: wall() }));
  node.micro.on('removed', (instance) => {
    node.up.delete(instance.id);
    update();
  });
  node.start = async () => {
    node.server = await listen(app);
    // Discovery is served ahead of the app's middleware: count at the server.
    node.server.prependListener('request', (request) => request.url.startsWith('/_discovery/') && node.discovery++);
    node.url = `http://${HOST}:${node.server.address().port}`;
  };
  node.stop = async () => {
    await node.micro.close();
    await closeServer(node.server);
  };
  return node;
}

async function runCluster(size) {
  const interval = intervalFor(size);
  const bound = 40 * interval + 5000;
  const seed = createNode('svc-0', [], interval);
  seed.expect = size - 1;
  await seed.start();
  const victim = await spawnChild({ serviceName: `svc-${size - 1}`, pingInterval: interval, peers: [seed.url] }, { expect: size - 1, autostart: false });
  const nodes = [seed];
  for (let index = 1; index < size - 1; index++) {
    const node = createNode(`svc-${index}`, [seed.url], interval);
    node.expect = size - 1;
    nodes.push(node);
  }
  const result = { size, interval };
  try {
    // t0: every service is told to listen (and so to join) at once.
    const t0 = wall();
    const ready = victim.go();
    await Promise.all(nodes.slice(1).map((node) => node.start()));
    const victimReady = await ready;
    result.startSpread = Math.max(wall(), victimReady.at) - t0;
    const full = () => victim.has('converged') && nodes.every((node) => node.completeAt !== undefined);
    if (!(await waitFor(full, `N=${size} to converge`, bound).then(() => true, () => false))) {
      // Never converged within the bound: reported as a timeout, nothing else is measured.
      Object.assign(result, { converge: Infinity, outAll: NaN, detectAll: NaN, detectMedian: NaN, requestsPerNode: NaN, rss: NaN, heap: NaN, cpu: NaN, harnessCpu: NaN, spuriousDowns: NaN });
      return result;
    }
    const converged = await victim.event('converged');
    result.converge = Math.max(converged.at, ...nodes.map((node) => node.completeAt)) - t0;

    // Steady state: what membership costs each node.
    await sleep(2 * interval);
    const downsBefore = nodes.reduce((sum, node) => sum + node.downs.length, 0);
    const counts = nodes.map((node) => node.discovery);
    const before = await victim.stats();
    const harnessBefore = process.cpuUsage();
    const windowStart = wall();
    await sleep(Math.max(WINDOW_MS, 4 * interval));
    const harness = process.cpuUsage(harnessBefore);
    result.harnessCpu = (harness.user + harness.system) / 1000 / (wall() - windowStart);
    const after = await victim.stats();
    const seconds = (after.at - before.at) / 1000;
    result.requestsPerNode = median(nodes.map((node, index) => (node.discovery - counts[index]) / seconds));
    result.victimRequests = (after.discovery - before.discovery) / seconds;
    result.rss = after.rss;
    result.heap = after.heapUsed;
    result.cpu = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000 / (after.at - before.at);
    result.spuriousDowns = nodes.reduce((sum, node) => sum + node.downs.length, 0) - downsBefore;
    result.stillConverged = nodes.every((node) => node.up.size >= size - 1) && after.up >= size - 1;

    // Detection: a crash, without a leave message.
    const victimId = victimReady.id;
    const killedAt = wall();
    await victim.kill();
    const downAt = (node) => node.downs.find((down) => down.id === victimId && down.at >= killedAt)?.at;
    await waitFor(() => nodes.every((node) => downAt(node) !== undefined), `N=${size}: every survivor to mark the victim DOWN`, bound).catch(() => {});
    const times = nodes.map((node) => (downAt(node) ?? Infinity) - killedAt);
    result.detectAll = Math.max(...times);
    result.detectMedian = median(times);
    // Out of the rotation: suspected (or DOWN) on every survivor.
    const outAt = (node) => Math.min(node.suspects.find((seen) => seen.id === victimId && seen.at >= killedAt)?.at ?? Infinity, downAt(node) ?? Infinity);
    result.outAll = Math.max(...nodes.map((node) => outAt(node) - killedAt));
  } finally {
    await victim.kill();
    await Promise.all(nodes.map((node) => node.micro.close()));
    await Promise.all(nodes.map((node) => node.server && closeServer(node.server)));
  }
  return result;
}

async function runFailover(round) {
  const first = await spawnChild({ serviceName: 'user-service', pingInterval: FAILOVER_INTERVAL });
  const second = await spawnChild({ serviceName: 'user-service', pingInterval: FAILOVER_INTERVAL, peers: [first.url] });
  const caller = createNode('failover-caller', [first.url], FAILOVER_INTERVAL);
  await caller.start();
  const result = { ok: 0, failed: 0, errors: new Map() };
  try {
    await waitFor(() => caller.micro.peers().filter((peer) => peer.service === 'user-service' && peer.status === 'UP').length === 2, 'both user-service instances UP', 10_000);
    const victim = round % 2 ? first : second;
    result.killed = round % 2 ? 'the seed' : 'the other';
    const duration = Math.max(1500, 10 * FAILOVER_INTERVAL);
    const begin = wall();
    const end = begin + duration;
    const services = caller.micro.services;
    let killed = false;
    const worker = async (offset) => {
      for (let index = offset; wall() < end && index < 1_000_000; index += INFLIGHT) {
        try {
          const answer = await services.userService.getUser({ id: (index % 100) + 1 });
          if (answer?.id !== String((index % 100) + 1)) throw new Error('wrong answer');
          result.ok++;
        } catch (error) {
          result.failed++;
          const name = `${error?.name ?? 'Error'}${killed ? '' : ' (before the kill)'}`;
          result.errors.set(name, (result.errors.get(name) ?? 0) + 1);
        }
      }
    };
    const load = Promise.all(Array.from({ length: INFLIGHT }, (_, offset) => worker(offset)));
    await sleep(duration / 3);
    killed = true;
    await victim.kill();
    await load;
  } finally {
    await caller.stop();
    await first.kill();
    await second.kill();
  }
  return result;
}

/** A service on its own, no peers: the baseline for a member's RSS. */
async function loneService() {
  const lone = await spawnChild({ serviceName: 'lone', pingInterval: 200 });
  try {
    await sleep(1000);
    return await lone.stats();
  } finally {
    await lone.kill();
  }
}

async function main() {
  const lone = await loneService();
  const runs = new Map(SIZES.map((size) => [size, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let step = 0; step < SIZES.length; step++) {
      const size = SIZES[(round + step) % SIZES.length];
      runs.get(size).push(await runCluster(size));
      process.stderr.write(`  [cluster] round ${round + 1}/${ROUNDS}, N=${size} done\n`);
    }
  }
  const failovers = [];
  for (let round = 0; round < FAILOVER_ROUNDS; round++) {
    failovers.push(await runFailover(round));
    process.stderr.write(`  [failover] round ${round + 1}/${FAILOVER_ROUNDS} done\n`);
  }

  const per = (size, key, pick = median) => pick(runs.get(size).map((run) => run[key]));
  const worst = (values) => Math.max(...values.filter((value) => !Number.isNaN(value)));

  table(
    `2. Convergence: N services, each given only svc-0 as a peer (median of ${ROUNDS} interleaved rounds)`,
    ['N', 'pingInterval', 'time to full view', 'in ping intervals', 'worst round', 'target', 'verdict'],
    SIZES.map((size) => {
      const value = per(size, 'converge') / intervalFor(size);
      const ok = value <= CONVERGE_TARGET;
      record({ section: 'convergence', target: `N=${size}: full view ≤ ${CONVERGE_TARGET} intervals`, measured: `${fmt.num(value, 2)} intervals (${intervalFor(size)} ms)`, ok });
      return [String(size), `${intervalFor(size)} ms`, fmt.ms(per(size, 'converge')), fmt.num(value, 2), fmt.num(per(size, 'converge', worst) / intervalFor(size), 2), `≤ ${CONVERGE_TARGET}`, fmt.verdict(ok)];
    }),
    [
      `t0: every service is told to listen at once (all listening within ${fmt.ms(median(SIZES.flatMap((size) => runs.get(size).map((run) => run.startSpread))))}, median); end: every service, the child included, sees all N−1 others UP.`,
      `N−1 services share this process, 1 is a child process. pingInterval = max(200 ms, 20 ms × N) unless BENCH_PING_INTERVAL is set (see the header of scripts/bench-cluster.mjs).`,
    ],
  );

  table(
    `3a. Detection: the child service SIGKILLed; time until every survivor has it out of its call rotation (suspected), and DOWN (median of ${ROUNDS} rounds)`,
    ['N', 'pingInterval', 'out of rotation everywhere', 'in intervals', 'target', 'DOWN everywhere', 'in intervals', 'bound', 'verdict'],
    SIZES.map((size) => {
      const out = per(size, 'outAll') / intervalFor(size);
      const down = per(size, 'detectAll') / intervalFor(size);
      const ok = out <= OUT_TARGET && down <= downBound(size);
      record({ section: 'detection', target: `N=${size}: out of every rotation ≤ ${OUT_TARGET} intervals, DOWN ≤ ${fmt.num(downBound(size), 1)}`, measured: `${fmt.num(out, 2)} / ${fmt.num(down, 2)} intervals (${intervalFor(size)} ms)`, ok });
      return [String(size), `${intervalFor(size)} ms`, fmt.ms(per(size, 'outAll')), fmt.num(out, 2), `≤ ${OUT_TARGET}`, fmt.ms(per(size, 'detectAll')), fmt.num(down, 2), `≤ ${fmt.num(downBound(size), 1)}`, fmt.verdict(ok)];
    }),
  );

  const totalFailed = failovers.reduce((sum, run) => sum + run.failed, 0);
  const errorNames = new Map();
  for (const run of failovers) for (const [name, count] of run.errors) errorNames.set(name, (errorNames.get(name) ?? 0) + count);
  table(
    `3b. Failover: 2 instances of user-service (child processes), ${INFLIGHT} getUser calls in flight, one SIGKILLed mid-run, pingInterval ${FAILOVER_INTERVAL} ms`,
    ['round', 'killed', 'calls ok', 'calls failed', 'target', 'verdict'],
    [
      ...failovers.map((run, index) => [String(index + 1), run.killed, fmt.int(run.ok), String(run.failed), '0', fmt.verdict(run.failed === 0)]),
      ['all', '', fmt.int(failovers.reduce((sum, run) => sum + run.ok, 0)), String(totalFailed), '0', fmt.verdict(totalFailed === 0)],
    ],
    errorNames.size ? [`failures: ${[...errorNames].map(([name, count]) => `${name} ×${count}`).join(', ')}`] : [],
  );
  record({ section: 'failover', target: 'failed GET calls when an instance is SIGKILLed = 0', measured: String(totalFailed), ok: totalFailed === 0 });

  const base = SIZES[0];
  const perInterval = (size) => per(size, 'requestsPerNode') * (intervalFor(size) / 1000);
  const cpuPerInterval = (size) => per(size, 'cpu') * intervalFor(size);
  table(
    `4. Cost of membership per node, steady state after convergence (median of ${ROUNDS} rounds; ratios vs N = ${base})`,
    ['N', 'pingInterval', 'disc. req/s in', 'req per interval', 'ratio', 'target', 'child RSS', 'over lone', 'ratio', 'child heap', 'child CPU', 'CPU ms/interval', 'ratio', 'harness CPU', 'spurious DOWN'],
    SIZES.map((size) => [
      String(size),
      `${intervalFor(size)} ms`,
      fmt.num(per(size, 'requestsPerNode'), 1),
      fmt.num(perInterval(size), 1),
      fmt.ratio(perInterval(size) / perInterval(base)),
      '≤ 4',
      fmt.mb(per(size, 'rss')),
      fmt.mb(per(size, 'rss') - lone.rss),
      fmt.ratio(per(size, 'rss') / per(base, 'rss')),
      fmt.mb(per(size, 'heap')),
      `${fmt.num(per(size, 'cpu') * 100, 1)} %`,
      fmt.num(cpuPerInterval(size), 2),
      fmt.ratio(cpuPerInterval(size) / cpuPerInterval(base)),
      `${fmt.num(per(size, 'harnessCpu') * 100, 0)} %`,
      fmt.int(runs.get(size).reduce((sum, run) => sum + run.spuriousDowns, 0)),
    ]),
    [
      `disc. req in: discovery requests (every /_discovery endpoint) a node receives, median over the in-process nodes, over max(${WINDOW_MS} ms, 4 intervals).`,
      `child: the one service in its own Node process, same window; "over lone": its RSS minus that of the same service alone (${fmt.mb(lone.rss)}). Per interval, a node should get`,
      'about one probe (SWIM: each node probes one member per interval), whatever N. harness CPU: this process (N−1 services) over the window, all threads, of one core.',
      'spurious DOWN: DOWN events for live members during the window, all rounds (should be 0).',
    ],
  );
  for (const size of SIZES) record({ section: 'membership', target: `N=${size}: discovery requests per node per interval ≤ 4`, measured: fmt.num(perInterval(size), 2), ok: perInterval(size) <= 4 });
  record({ section: 'membership', rows: SIZES.map((size) => ({ size, interval: intervalFor(size), rps: per(size, 'requestsPerNode'), perInterval: perInterval(size), rss: per(size, 'rss'), cpu: per(size, 'cpu') })) });
}

try {
  await main();
} catch (error) {
  console.error('bench-cluster failed:', error);
  process.exitCode = 1;
} finally {
  await killChildren();
  process.exit(process.exitCode ?? 0);
}
