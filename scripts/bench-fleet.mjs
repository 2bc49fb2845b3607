// `bash scripts/bench cluster N`: a fleet of N real Node processes of the built package on this
// machine, as a user would run one (issue 27). Each process is scripts/bench-child.mjs: Express 5
// plus express-micro, default options but `pingInterval` (1000 ms), a distinct service name
// (svc-0 … svc-N−1), and svc-0 as its only peer. The seed listens first; the others are started
// (loaded, not listening) in small batches, then all told to listen at once.
//
//   1. full view: from the moment the last one listens until every member sees all N−1 others UP,
//      in intervals (target ≤ 5).
//   2. idle cost over BENCH_IDLE_MS (10 s) of the converged fleet, 20 s after the full view: discovery requests each member
//      receives per interval (≤ 4), CPU per member in ms per second (≤ 3; process.cpuUsage of
//      each member, its own HTTP server, client, timers and GC included), RSS per process, and
//      bytes sent per member per interval (read + written on every member's server sockets).
//      Beside it, the floor: two bare Express + undici processes (scripts/bench-floor-child.mjs)
//      sending each other the one JSON POST per interval a member sends and answers, measured
//      over the same window; the member's cost is also given as a ratio to it.
//   3. join storm (BENCH_FLEET_STORM=1, the default): half the fleet, up to 50 (never the seed),
//      is replaced as a deploy does it: the new processes are loaded beforehand, then within 2 s
//      each old one closes (telling the members it leaves) and its replacement listens. Every
//      table must be true again (exactly the live members UP) within 5 intervals of the last
//      listen, and no member that stayed is marked DOWN.
//   4. mass failure: 30% of the members (not the seed) are SIGKILLed at once. Every survivor must
//      take them out of its rotation (suspect or DOWN) within 3 intervals, mark them DOWN within
//      the suspicion bound, and mark nothing else DOWN.
//
// Environment: BENCH_PING_INTERVAL (1000), BENCH_IDLE_MS (10000), BENCH_FLEET_SETTLE_MS (20000), BENCH_FLEET_STORM (1; 0 skips
// 3 and 4), BENCH_FLEET_NODE_ARGS (flags for every member's node), BENCH_FLEET_PROFILE (a directory: svc-1 runs with --cpu-prof there, and writes its
// profile when the fleet closes), BENCH_DIST (another build).
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { envNumber, fmt, killChildren, median, record, sleep, spawnChild, table, wall, waitFor } from './bench-lib.mjs';

const SIZE = Number(process.argv[2] ?? process.env.BENCH_FLEET_SIZE ?? 10);
if (!Number.isInteger(SIZE) || SIZE < 3) throw new Error(`bench-fleet: N must be an integer ≥ 3, got ${process.argv[2]}`);
const INTERVAL = envNumber('BENCH_PING_INTERVAL', 1000);
const IDLE_MS = envNumber('BENCH_IDLE_MS', 10_000);
const STORM = process.env.BENCH_FLEET_STORM !== '0';
const PROFILE = process.env.BENCH_FLEET_PROFILE;
const BATCH = 6;
/** Flags for every member's node (BENCH_FLEET_NODE_ARGS, space-separated): to try V8 options. */
const NODE_ARGS = (process.env.BENCH_FLEET_NODE_ARGS ?? '').split(' ').filter(Boolean);
const FULL_VIEW_TARGET = 5;
const FLOOR_CHILD = fileURLToPath(new URL('./bench-floor-child.mjs', import.meta.url));
const STORM_TARGET = 5;
const OUT_TARGET = 3;
/** The longest suspicion (6 × 4 × max(1, log10 N) intervals, default multiplier) plus 2 intervals to notice and spread. */
const suspicionBound = (size) => (24 * Math.max(1, Math.log10(size)) + 2) * INTERVAL;

/** Starts `count` members (loaded, not listening) in batches: N processes loading at once would starve each other. */
async function spawnMembers(names, peers) {
  const members = [];
  for (let index = 0; index < names.length; index += BATCH) {
    const batch = names.slice(index, index + BATCH);
    members.push(
      ...(await Promise.all(
        batch.map((name) =>
          spawnChild(
            { serviceName: name, pingInterval: INTERVAL, peers },
            { expect: SIZE - 1, autostart: false, nodeArgs: [...NODE_ARGS, ...(PROFILE && name === 'svc-1' ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [])] },
          ).then((child) => Object.assign(child, { name })),
        ),
      )),
    );
  }
  return members;
}

async function listenAll(members) {
  const readies = await Promise.all(members.map((member) => member.go()));
  members.forEach((member, index) => Object.assign(member, { id: readies[index].id, readyAt: readies[index].at }));
  return Math.max(...readies.map((ready) => ready.at));
}

/**
 * Two scripts/bench-floor-child.mjs processes sending each other one JSON POST per interval: the
 * cost of a member's traffic alone on this machine, the baseline its idle CPU is read against.
 */
async function startFloor() {
  const floor = await Promise.all([0, 1].map(() => spawnChild({ pingInterval: INTERVAL }, { script: FLOOR_CHILD, timeout: 120_000 })));
  floor[0].command(`peer ${floor[1].url}`);
  floor[1].command(`peer ${floor[0].url}`);
  return floor;
}

/** µs of CPU (user + system) a process spent between two of its `stats` answers. */
const cpuSpent = (before, after) => after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
/** µs of CPU over ms of wall time: ms of CPU per second. */
const cpuPerSecond = (before, after) => cpuSpent(before, after) / (after.at - before.at);

const views = (members) => Promise.all(members.map((member) => member.view()));

/** Members whose UP set is not exactly the other live members. */
async function wrongTables(members) {
  const live = new Set(members.map((member) => member.id));
  const seen = await views(members);
  return seen.filter((view, index) => view.up.length !== live.size - 1 || view.up.some((id) => !live.has(id) || id === members[index].id)).length;
}

async function waitTrue(members, bound) {
  const started = wall();
  let wrong = members.length;
  let told = false;
  while (wall() - started < bound) {
    wrong = await wrongTables(members);
    if (wrong === 0) return wall();
    if (!told && wall() - started > STORM_TARGET * INTERVAL) told = await tellWrong(members);
    await sleep(250);
  }
  await tellWrong(members);
  return Infinity;
}

/** Says how the tables are wrong: members missing from them, or gone ones still UP in them. */
async function tellWrong(members) {
  const live = new Set(members.map((member) => member.id));
  const seen = await views(members);
  const missing = seen.map((view, index) => [...live].filter((id) => id !== members[index].id && !view.up.includes(id)).length);
  const extra = seen.map((view) => view.up.filter((id) => !live.has(id)).length);
  const sum = (values) => values.reduce((a, b) => a + b, 0);
  const who = members.filter((_, index) => missing[index] || extra[index]).map((member) => member.name + (member.replacement ? ' (new)' : ''));
  console.log(`  tables still wrong: ${missing.filter(Boolean).length} miss live members (${sum(missing)} in all), ${extra.filter(Boolean).length} list gone ones as UP (${sum(extra)} in all): ${who.slice(0, 8).join(', ')}`);
  return true;
}

async function main() {
  const seed = await spawnMembers(['svc-0'], []).then(([member]) => member);
  await listenAll([seed]);
  seed.url = `http://127.0.0.1:${(await seed.event('ready')).port}`;
  const names = Array.from({ length: SIZE - 1 }, (_, index) => `svc-${index + 1}`);
  const loadStarted = wall();
  const others = await spawnMembers(names, [seed.url]);
  const loadMs = wall() - loadStarted;
  let members = [seed, ...others];

  // 1. Full view after the last one listens.
  // CPU each spends joining: from just before it listens until the full view (or the bound).
  const loaded = await Promise.all(members.map((member) => member.stats()));
  const lastListen = await listenAll(others);
  const fullBound = envNumber('BENCH_FLEET_BOUND_S', 60) * INTERVAL;
  let fullAt = Infinity;
  // Every 10 s until then, a progress line: how many members see all the others, the smallest table.
  let asking = false;
  const progress = setInterval(async () => {
    if (asking) return;
    asking = true;
    const seen = await views(members).finally(() => (asking = false));
    const sizes = seen.map((view) => view.up.length).sort((a, b) => a - b);
    const downs = seen.reduce((sum, view) => sum + view.downs.length, 0);
    console.log(`  ${((wall() - lastListen) / 1000).toFixed(0)} s after the last listened: ${sizes.filter((size) => size === SIZE - 1).length} of ${SIZE} see all the others; UP in a table: min ${sizes[0]}, median ${median(sizes)}; ${downs} DOWN fired so far`);
  }, 10_000);
  await waitFor(() => members.every((member) => member.has('converged')), 'the full view', fullBound, 50).then(
    async () => (fullAt = Math.max(...(await Promise.all(members.map((member) => member.event('converged')))).map((message) => message.at))),
    () => {},
  );
  clearInterval(progress);
  const fullView = (fullAt - lastListen) / INTERVAL;
  const missing = Number.isFinite(fullAt) ? 0 : await wrongTables(members);
  const joined = await Promise.all(members.map((member) => member.stats()));
  // What a member was asked while joining, by endpoint: the work behind that CPU.
  const paths = [...new Set(joined.flatMap((stats) => Object.keys(stats.byPath)))].sort();
  const joinRequests = Object.fromEntries(paths.map((path) => [path, median(others.map((_, index) => (joined[index + 1].byPath[path] ?? 0) - (loaded[index + 1].byPath[path] ?? 0)))]));
  console.log(`  discovery requests each member received while joining (median): ${paths.map((path) => `${path} ${joinRequests[path]}`).join(', ')}`);
  const joinCpu = median(others.map((_, index) => cpuSpent(loaded[index + 1], joined[index + 1]) / 1000));

  // 2. Idle cost, after BENCH_FLEET_SETTLE_MS (20 s): a Node process just started still compiles
  // and runs V8's memory-reducer GCs for its first 20 s or so, several ms/s that are no member's upkeep.
  // Beside the fleet, its floor: two bare processes with the traffic a member has per interval.
  const floor = await startFloor();
  await sleep(envNumber('BENCH_FLEET_SETTLE_MS', 20_000));
  const floorBefore = await Promise.all(floor.map((process_) => process_.stats()));
  const before = await Promise.all(members.map((member) => member.stats()));
  await sleep(IDLE_MS);
  const after = await Promise.all(members.map((member) => member.stats()));
  const floorAfter = await Promise.all(floor.map((process_) => process_.stats()));
  const floorCpu = median(floor.map((_, index) => cpuPerSecond(floorBefore[index], floorAfter[index])));
  await Promise.all(floor.map((process_) => process_.stop()));
  const cpu = (index) => cpuPerSecond(before[index], after[index]);
  const intervals = (index) => (after[index].at - before[index].at) / INTERVAL;
  const perNode = (field) => members.map((_, index) => (after[index][field] - before[index][field]) / intervals(index));
  const cpus = members.map((_, index) => cpu(index));
  const system = median(members.map((_, index) => (after[index].cpu.system - before[index].cpu.system) / (after[index].at - before[index].at)));
  const requests = perNode('discovery');
  const bytes = perNode('bytes');
  const rss = after.map((stats) => stats.rss);
  const idleDowns = (await views(members)).reduce((sum, view) => sum + view.downs.length, 0);
  const result = {
    size: SIZE, interval: INTERVAL, loadMs, fullView, missing, joinCpu, joinRequests,
    requests: median(requests), requestsMax: Math.max(...requests),
    cpu: median(cpus), cpuSystem: system, floorCpu, floorRatio: median(cpus) / floorCpu, cpuMax: Math.max(...cpus), cpuTotal: cpus.reduce((sum, value) => sum + value, 0),
    rss: median(rss), rssMax: Math.max(...rss), bytes: median(bytes), bytesMax: Math.max(...bytes), idleDowns,
  };

  table(
    `Fleet of ${SIZE} Node processes on 127.0.0.1 (one seed, pingInterval ${INTERVAL} ms, idle window ${IDLE_MS / 1000} s; ${members.length} processes loaded in ${fmt.ms(loadMs)})`,
    ['measure', 'median', 'max', 'target', ''],
    [
      ['full view after the last one listens (intervals)', fmt.num(fullView, 1), missing ? `${missing} members incomplete` : '', `≤ ${FULL_VIEW_TARGET}`, fmt.verdict(fullView <= FULL_VIEW_TARGET)],
      ['CPU per member from listening to the full view (ms; the seed excluded)', fmt.num(joinCpu, 0), '', '', ''],
      ['discovery requests received per member per interval', fmt.num(result.requests, 2), fmt.num(result.requestsMax, 2), '≤ 4', fmt.verdict(result.requestsMax <= 4)],
      [`idle CPU per member (ms/s; ${fmt.num(system, 2)} of it in the kernel)`, fmt.num(result.cpu, 2), fmt.num(result.cpuMax, 2), '≤ 3', fmt.verdict(result.cpu <= 3)],
      ['floor: Express + undici, one JSON POST sent and one answered per interval, nothing else (ms/s)', fmt.num(floorCpu, 2), '', '', ''],
      ['idle CPU per member ÷ that floor, measured beside it', `${fmt.num(result.floorRatio, 2)}×`, '', '', ''],
      ['RSS per process', fmt.mb(result.rss), fmt.mb(result.rssMax), '', ''],
      ['bytes sent per member per interval', fmt.int(result.bytes), fmt.int(result.bytesMax), '', ''],
      ['DOWN fired while idle (all members)', String(idleDowns), '', '0', fmt.verdict(idleDowns === 0)],
    ],
    [`the fleet's upkeep: ${fmt.num(result.cpuTotal, 0)} ms of CPU per second in all (${fmt.num(result.cpuTotal / 10, 1)}% of one core)`],
  );
  record({ section: 'fleet', target: `N=${SIZE} processes: full view ≤ ${FULL_VIEW_TARGET} intervals after the last listens`, measured: fmt.num(fullView, 1), ok: fullView <= FULL_VIEW_TARGET });
  record({ section: 'fleet', target: `N=${SIZE} processes: discovery requests per member per interval ≤ 4`, measured: fmt.num(result.requestsMax, 2), ok: result.requestsMax <= 4 });
  record({ section: 'fleet', target: `N=${SIZE} processes: idle CPU per member ≤ 3 ms/s`, measured: fmt.num(result.cpu, 2), ok: result.cpu <= 3 });

  if (STORM && Number.isFinite(fullAt)) {
    // 3. A deploy's join storm.
    const count = Math.min(50, Math.floor(SIZE / 2));
    const leaving = members.slice(1, 1 + count);
    const replacements = await spawnMembers(leaving.map((member) => member.name), [seed.url]);
    for (const member of replacements) member.replacement = true;
    const stayed = members.filter((member) => !leaving.includes(member));
    const stormStart = wall();
    const spread = 2000 / count;
    const listening = [];
    for (const [index, old] of leaving.entries()) {
      void old.stop();
      listening.push(listenAll([replacements[index]]));
      await sleep(spread);
    }
    const lastStormListen = Math.max(...(await Promise.all(listening)));
    members = [...stayed, ...replacements];
    const trueAt = await waitTrue(members, 30 * INTERVAL);
    const stormView = (trueAt - lastStormListen) / INTERVAL;
    const stormWindow = wall() - stormStart;
    const stayedIds = new Set(stayed.map((member) => member.id));
    const stormDowns = (await views(members)).flatMap((view) => view.downs.filter((down) => down.at >= stormStart && stayedIds.has(down.id))).length;

    // 4. Mass failure: 30% SIGKILLed at once (the seed stays).
    await sleep(2 * INTERVAL);
    const victims = members.slice(1, 1 + Math.round(0.3 * members.length));
    const survivors = members.filter((member) => !victims.includes(member));
    const victimIds = new Set(victims.map((member) => member.id));
    const killedAt = wall();
    await Promise.all(victims.map((member) => member.kill()));
    const bound = suspicionBound(SIZE - victims.length);
    const everyoneDown = async () => (await views(survivors)).every((view) => victims.every((victim) => view.downs.some((down) => down.id === victim.id && down.at >= killedAt)));
    await waitFor(everyoneDown, 'every victim DOWN everywhere', bound + 10 * INTERVAL, 250).catch(() => {});
    const final = await views(survivors);
    let outLast = 0;
    let downLast = 0;
    for (const view of final) {
      for (const victim of victims) {
        const down = view.downs.find((event) => event.id === victim.id && event.at >= killedAt)?.at ?? Infinity;
        const suspected = view.suspects.find((event) => event.id === victim.id && event.at >= killedAt)?.at ?? Infinity;
        outLast = Math.max(outLast, Math.min(down, suspected) - killedAt);
        downLast = Math.max(downLast, down - killedAt);
      }
    }
    const wrongDowns = final.flatMap((view) => view.downs.filter((down) => down.at >= killedAt && !victimIds.has(down.id))).length;
    Object.assign(result, { stormCount: count, stormView, stormWindow, stormDowns, victims: victims.length, outLast: outLast / INTERVAL, downLast, downBound: bound, wrongDowns });
    table(
      `Deploy and failure in the fleet of ${SIZE}`,
      ['measure', 'measured', 'target', ''],
      [
        [`join storm: ${count} replaced within 2 s → every table true (intervals after the last listens)`, fmt.num(stormView, 1), `≤ ${STORM_TARGET}`, fmt.verdict(stormView <= STORM_TARGET)],
        ['join storm: members that stayed marked DOWN (all tables)', String(stormDowns), '0', fmt.verdict(stormDowns === 0)],
        [`mass failure: ${victims.length} SIGKILLed → out of every rotation (intervals)`, fmt.num(outLast / INTERVAL, 1), `≤ ${OUT_TARGET}`, fmt.verdict(outLast / INTERVAL <= OUT_TARGET)],
        ['mass failure: DOWN on every survivor', fmt.ms(downLast), `≤ ${fmt.ms(bound)}`, fmt.verdict(downLast <= bound)],
        ['mass failure: others marked DOWN (all tables)', String(wrongDowns), '0', fmt.verdict(wrongDowns === 0)],
      ],
    );
    record({ section: 'fleet', target: `N=${SIZE}: join storm of ${count}, every table true ≤ ${STORM_TARGET} intervals, no false DOWN`, measured: `${fmt.num(stormView, 1)}, ${stormDowns} DOWN`, ok: stormView <= STORM_TARGET && stormDowns === 0 });
    record({ section: 'fleet', target: `N=${SIZE}: ${victims.length} SIGKILLed: out ≤ ${OUT_TARGET} intervals, DOWN within the suspicion bound, nothing else DOWN`, measured: `${fmt.num(outLast / INTERVAL, 1)}, ${fmt.ms(downLast)}, ${wrongDowns}`, ok: outLast / INTERVAL <= OUT_TARGET && downLast <= bound && wrongDowns === 0 });
    members = survivors;
  }
  console.log(`\nfleet-json ${JSON.stringify(result)}`);
  // Closing stdin makes each member leave and exit (the profiled one writes its profile then).
  await Promise.all(members.map((member) => member.stop()));
}

try {
  await main();
} finally {
  await killChildren();
}
