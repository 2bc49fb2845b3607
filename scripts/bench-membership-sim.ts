// Section 6 of `npm run bench` (run by Bun, which runs TypeScript as it is): the membership
// protocol in the deterministic simulation of test/simulation (the library's own Cluster code on a
// virtual clock, an in-process network with seeded loss). Counts and times depend only on the
// seed.
//
//   BENCH_SIM_SIZES=10,100,1000     the cluster sizes (default); each is skipped, with the reason,
//                                   when its tables would not fit in half the free memory
//   BENCH_SIM_LOSS_MINUTES=1        simulated minutes at 1% and at 5% loss, for each size
//
// Every member holds a row for every other, so one process simulating N members holds N² rows:
// about 2.4 KB each (measured: 2.4 GB of heap at N = 1000 after the join). N = 5000 would need
// about 60 GB.
import { freemem } from 'node:os';
import { pushPullPeriod } from '../src/discovery/cluster.ts';
import { crashOne, joinAll, underLoss } from '../test/simulation/scenarios.ts';
import type { SimulatedNode, World } from '../test/simulation/world.ts';

const INTERVAL = 1000;
const BYTES_PER_ROW = 2400;
const sizes = (process.env.BENCH_SIM_SIZES ?? '10,100,1000').split(',').map(Number);
const lossMinutes = Number(process.env.BENCH_SIM_LOSS_MINUTES ?? 1);

function holds(node: SimulatedNode, id: string): boolean {
  const instance = node.cluster.table.get(id);
  return instance !== undefined && instance.status === 'UP' && !instance.suspect;
}

/** One more member joins through node 0: ms until every table holds it and it holds every member. */
async function joinOne(world: World): Promise<number | undefined> {
  const newcomer = world.add([(world.nodes[0] as SimulatedNode).url]);
  const others = world.nodes.filter((node) => node !== newcomer && !node.crashed);
  return world.until(() => others.every((node) => holds(node, newcomer.cluster.id) && holds(newcomer, node.cluster.id)), 120 * INTERVAL, INTERVAL / 10);
}

/** Requests sent and JSON bytes sent (requests and answers) per node per interval, over `intervals` quiet intervals. */
async function traffic(world: World, intervals: number): Promise<{ messages: number; bytes: number; maxMessages: number }> {
  for (const node of world.nodes) {
    node.sent = 0;
    node.bytesSent = 0;
  }
  world.counting = true;
  await world.clock.advance(intervals * INTERVAL);
  world.counting = false;
  const live = world.nodes.filter((node) => !node.crashed);
  const messages = live.map((node) => node.sent / intervals);
  return { messages: messages.reduce((a, b) => a + b, 0) / live.length, maxMessages: Math.max(...messages), bytes: live.reduce((sum, node) => sum + node.bytesSent, 0) / live.length / intervals };
}

const fmt = (ms: number | undefined, digits = 1): string => (ms === undefined ? 'never' : (ms / INTERVAL).toFixed(digits));
const rows: string[][] = [];
const skipped: string[] = [];
for (const size of sizes) {
  const needed = size * size * BYTES_PER_ROW;
  if (needed > freemem() / 2) {
    skipped.push(`N = ${size}: skipped, its tables need about ${(needed / 1e9).toFixed(1)} GB (N² rows of ~${BYTES_PER_ROW} B) and ${(freemem() / 1e9).toFixed(1)} GB is free`);
    continue;
  }
  const started = performance.now();
  const joined = await joinAll(size, 11);
  const world = joined.world;
  const sent = await traffic(world, 10);
  const join = await joinOne(world);
  const crash = await crashOne(world, size - 1);
  const one = await underLoss(world, 0.01, lossMinutes);
  const five = await underLoss(world, 0.05, lossMinutes);
  world.stop();
  rows.push([
    String(size),
    fmt(joined.converged),
    fmt(join),
    fmt(crash.outOfRotation, 2),
    fmt(crash.down),
    `${sent.messages.toFixed(2)} / ${sent.maxMessages.toFixed(2)}`,
    `${Math.round(sent.bytes)}`,
    `${one.falseDowns} / ${five.falseDowns}`,
    `${(pushPullPeriod(size, INTERVAL) / INTERVAL).toFixed(0)}`,
    `${((performance.now() - started) / 1000).toFixed(0)} s`,
  ]);
  console.error(`  sim N=${size} done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
const head = [
  'N',
  'full view, all joining from one seed (intervals)',
  'one more join: in every table (intervals)',
  'crash: out of every rotation (intervals)',
  'crash: DOWN everywhere (intervals)',
  'requests sent per node per interval (mean / max)',
  'JSON bytes sent per node per interval',
  `false DOWN, ${lossMinutes} min at 1% / 5% loss`,
  'push-pull period (intervals)',
  'CPU time',
];
console.log('\n6. Membership in the deterministic simulation (interval 1 s, probe timeout 500 ms, k = 3, one seed for all)\n');
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map(() => '---:').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
for (const line of skipped) console.log(`\n  ${line}`);
console.log('\n  Targets: requests ≤ 4 per node per interval at every N, flat bytes; 0 false DOWN at 1% and 5% loss; out of rotation ≤ 2 intervals; join and DOWN growing with log N.');
process.exit(0);
