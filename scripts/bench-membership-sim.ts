// Section 6 of `npm run bench` (run by Bun, which runs TypeScript as it is): the membership
// protocol in the deterministic simulation of test/simulation (the library's own Cluster code on a
// virtual clock, an in-process network with seeded loss). Counts and times depend only on the
// seed. N = 1000 skips the ten-minute loss runs (about 4 minutes of CPU each).
import { crashOne, joinAll, requestsPerInterval, underLoss } from '../test/simulation/scenarios.ts';

const rows: string[][] = [];
for (const size of [10, 100, 1000]) {
  const started = performance.now();
  const joined = await joinAll(size, 11);
  const rate = await requestsPerInterval(joined.world, 10);
  const crash = await crashOne(joined.world, size - 1);
  joined.world.stop();
  let ten = 'n/a';
  let twenty = 'n/a';
  if (size <= 100) {
    const lossy = (await joinAll(size, 12)).world;
    ten = String((await underLoss(lossy, 0.1, 10)).falseDowns);
    twenty = (await underLoss(lossy, 0.2, 10)).perMemberMinute.toFixed(3);
    lossy.stop();
  }
  rows.push([
    String(size),
    `${((joined.converged ?? NaN) / 1000).toFixed(1)}`,
    `${rate.mean.toFixed(2)} / ${rate.max.toFixed(2)}`,
    ten,
    twenty,
    `${((crash.outOfRotation ?? NaN) / 1000).toFixed(2)}`,
    `${((crash.down ?? NaN) / 1000).toFixed(1)}`,
    `${((performance.now() - started) / 1000).toFixed(0)} s`,
  ]);
}
const head = ['N', 'full view (intervals)', 'req in per node per interval (mean / max)', 'false DOWN, 10% loss, 10 min', 'false DOWN per member-minute, 20% loss', 'crash out of every rotation (intervals)', 'crash DOWN everywhere (intervals)', 'CPU time'];
console.log('\n6. Membership in the deterministic simulation (interval 1 s, probe timeout 500 ms, k = 3, one seed for all)\n');
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map(() => '---:').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
console.log('\n  Targets: req ≤ 4 per node per interval at every N; 0 false DOWN at 10% loss; ≤ 0.1 per member-minute at 20%; out of rotation ≤ 2 intervals.');
process.exit(0);
