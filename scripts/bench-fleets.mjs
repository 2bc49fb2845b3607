// Section 7 of `npm run bench` (`bash scripts/bench fleets`): a service that is not one pool
// (docs/rolling-deploys.md). Node only; everything on 127.0.0.1.
//
// 7a. Same-zone share: user-service runs 2 instances in zone-a and 2 in zone-b (in this process);
//     a caller in zone-a and a caller with no zone each make BENCH_ZONE_CALLS calls (8 in flight).
//     The figure is the share each sent to zone-a, and express_micro_zone_requests_total.
// 7b. Rolling deploy: 3 instances of test/fixtures/versioned-service.mjs (child processes, `drain`
//     on) go from v1 to v2 one at a time, each restarted on its port once the last is UP again,
//     while a caller keeps GET + POST load on the routes both serve and calls the added, moved and
//     removed routes as the procedure says. The figures are calls made and failed, and how long the
//     deploy took. Bounded: BENCH_DEPLOY_MS (120 s) for the whole deploy.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { HOST, SECRET, closeServer, envNumber, listen, loadExpressMicro, record, table, waitFor } from './bench-lib.mjs';

const CALLS = envNumber('BENCH_ZONE_CALLS', 4000);
const DEPLOY_MS = envNumber('BENCH_DEPLOY_MS', 120_000);
const FIXTURE = fileURLToPath(new URL('../test/fixtures/versioned-service.mjs', import.meta.url));
const expressMicro = await loadExpressMicro();
const base = { host: HOST, secret: SECRET, logger: false, pingInterval: 500 };
const started = [];

async function service(name, options, define = () => {}) {
  const app = express();
  const micro = expressMicro(app, { serviceName: name, ...base, ...options });
  define(app);
  const server = await listen(app);
  await waitFor(() => micro.url !== undefined, `${name} started`);
  const entry = { micro, server, port: server.address().port, url: `http://${HOST}:${server.address().port}` };
  started.push(entry);
  return entry;
}

const upCount = (micro, predicate = () => true) => micro.peers().filter((peer) => peer.service === 'user-service' && peer.status === 'UP' && !peer.self && predicate(peer)).length;

async function drive(call, calls, inFlight) {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < calls) {
      const index = next++;
      try {
        await call(index);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return failed;
}

// 7a: the same-zone share.
{
  const served = new Map();
  const define = (zone) => (app) => app.get('/users/:id', (req, res) => {
    served.set(zone, (served.get(zone) ?? 0) + 1);
    res.json({ id: req.params.id, zone });
  });
  const first = await service('user-service', { zone: 'zone-a' }, define('zone-a'));
  for (const zone of ['zone-a', 'zone-b', 'zone-b']) await service('user-service', { zone, peers: [first.url] }, define(zone));
  const zoned = await service('zone-caller', { zone: 'zone-a', peers: [first.url] });
  const plain = await service('plain-caller', { peers: [first.url] });
  await waitFor(() => upCount(zoned.micro) === 4 && upCount(plain.micro) === 4, 'both callers see the four instances', 15_000);
  const rows = [];
  for (const [label, caller] of [['caller in zone-a', zoned], ['caller with no zone', plain]]) {
    served.clear();
    const failed = await drive((index) => caller.micro.services.userService.getUser({ id: index }), CALLS, 8);
    const share = (served.get('zone-a') ?? 0) / CALLS;
    const counted = caller.micro.metrics().express_micro_zone_requests_total.samples;
    const same = counted.find((sample) => sample.labels.locality === 'same_zone')?.value ?? 0;
    const cross = counted.find((sample) => sample.labels.locality === 'cross_zone')?.value ?? 0;
    rows.push([label, `${(share * 100).toFixed(1)}%`, same || cross ? `${same} / ${cross}` : '—', String(failed)]);
    if (caller === zoned) record({ section: 'fleets', target: 'same-zone share with 2 + 2 instances, all healthy ≥ 95%', measured: `${(share * 100).toFixed(1)}%`, ok: share >= 0.95 });
  }
  table(`7a. Same-zone share: user-service with 2 instances in zone-a and 2 in zone-b, ${CALLS} calls, 8 in flight`, ['caller', 'calls to zone-a', 'zone_requests same / cross', 'failed'], rows);
  for (const entry of started.splice(0)) {
    await entry.micro.close();
    await closeServer(entry.server);
  }
}

// 7b: a rolling deploy v1 → v2.
{
  const caller = await service('deploy-caller', {});
  const children = new Set();
  const spawnVersion = (version, port = 0) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [FIXTURE], {
        env: { ...process.env, EXPRESS_DISCOVERY_KEY: '', FIXTURE_PORT: String(port), FIXTURE_OPTIONS: JSON.stringify({ serviceName: 'user-service', ...base, peers: [caller.url], drain: { timeout: 10_000 }, metadata: { version } }) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.add(child);
      let output = '';
      const timer = setTimeout(() => reject(new Error(`v${version} did not start`)), 15_000);
      child.stdout.on('data', (chunk) => {
        output += chunk;
        const match = /READY (\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve({ child, port: Number(match[1]), url: `http://${HOST}:${match[1]}` });
        }
      });
      child.once('exit', () => children.delete(child));
    });
  const ids = (url) => caller.micro.peers().filter((peer) => peer.url === url && peer.status === 'UP').map((peer) => peer.id);
  const slots = [];
  for (let index = 0; index < 3; index++) slots.push(await spawnVersion('1'));
  await waitFor(() => slots.every((slot) => ids(slot.url).length === 1), 'the caller sees three v1 instances', 15_000);

  const users = caller.micro.services.userService;
  const serves = (route) => caller.micro.peers().some((peer) => peer.status === 'UP' && peer.routes.some((each) => `${each.method} ${each.path}` === route));
  let legacy = true;
  let stop = false;
  const counts = { calls: 0, failed: 0 };
  const failures = [];
  const loop = async (call, on) => {
    for (let index = 0; !stop; index++) {
      if (!on()) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      counts.calls++;
      try {
        await call(index);
      } catch (error) {
        counts.failed++;
        if (failures.length < 3) failures.push(`${error.name}: ${error.message}`);
      }
    }
  };
  const loops = [
    ...Array.from({ length: 4 }, (_, worker) => loop((index) => (index % 2 ? users.createOrder({ index, worker }) : users.getUser({ id: index })), () => true)),
    loop((index) => users.getAccount({ id: index, accountId: index }), () => true),
    loop(() => users.getReports(), () => serves('GET /reports')),
    loop((index) => users.createReport({ index }), () => serves('POST /reports')),
    loop(() => users.getLegacy(), () => legacy),
    loop((index) => users.createLegacy({ index }), () => legacy),
  ];
  const began = performance.now();
  const bound = Date.now() + DEPLOY_MS;
  try {
    for (const [index, slot] of slots.entries()) {
      if (index === slots.length - 1) legacy = false;
      const before = ids(slot.url)[0];
      await new Promise((resolve) => {
        slot.child.once('exit', resolve);
        slot.child.kill('SIGTERM');
      });
      Object.assign(slot, await spawnVersion('2', slot.port));
      await waitFor(() => ids(slot.url).some((id) => id !== before), `v2 UP at ${slot.url}`, Math.max(1, bound - Date.now()));
    }
  } finally {
    stop = true;
    await Promise.all(loops);
  }
  const seconds = (performance.now() - began) / 1000;
  table(
    '7b. Rolling deploy v1 → v2 of 3 instances (drain on), one at a time, under GET + POST load and calls of added, moved and removed routes',
    ['calls', 'failed', 'deploy took'],
    [[String(counts.calls), String(counts.failed), `${seconds.toFixed(1)} s`]],
    failures.length > 0 ? [`first failures: ${failures.join(' | ')}`] : [],
  );
  record({ section: 'fleets', target: 'rolling deploy v1 → v2: no failed call', measured: `${counts.failed} of ${counts.calls}`, ok: counts.failed === 0 });
  for (const child of children) child.kill('SIGKILL');
  await caller.micro.close();
  await closeServer(caller.server);
}
process.exit(0);
