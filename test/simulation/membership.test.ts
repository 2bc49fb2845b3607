/**
 * The membership protocol in a deterministic simulation (issue 9): real `Cluster` code, a
 * virtual clock, an in-process network with seeded loss and delay. Every figure depends only on
 * the seed, so each assertion either always holds or always fails.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { minimumSuspicion } from '../../src/discovery/suspicion.ts';
import { crashOne, joinAll, requestsPerInterval, underLoss } from './scenarios.ts';
import type { World } from './world.ts';

const INTERVAL = 1000;
let world: World | undefined;
afterEach(() => world?.stop());

/** The longest a crashed member can take to be DOWN everywhere: detection, then the longest suspicion, then news. */
function downBound(size: number): number {
  return 3 * INTERVAL + 6 * minimumSuspicion(4, size, INTERVAL) + 2 * INTERVAL;
}

describe.each([
  { size: 10, minutes: 10 },
  { size: 100, minutes: 10 },
])('a simulated cluster of $size', ({ size, minutes }) => {
  it('reaches a full view from one seed within 3 intervals, then receives at most 4 requests per node per interval', async () => {
    const joined = await joinAll(size, 1);
    world = joined.world;
    expect(joined.converged).toBeDefined();
    expect(joined.converged).toBeLessThanOrEqual(3 * INTERVAL);
    const rate = await requestsPerInterval(world, 20);
    console.info(`simulation N=${size}: full view after ${joined.converged} ms; requests received per node per interval mean ${rate.mean.toFixed(2)}, max ${rate.max.toFixed(2)}`);
    expect(rate.max).toBeLessThanOrEqual(4);
  });

  it(`declares no live member DOWN in ${minutes} simulated minutes of 10% loss, and at most 0.1 per member-minute at 20%`, async () => {
    world = (await joinAll(size, 2)).world;
    const ten = await underLoss(world, 0.1, minutes);
    expect(ten.falseDowns).toBe(0);
    const twenty = await underLoss(world, 0.2, minutes);
    console.info(`simulation N=${size}: 10% loss ${ten.falseDowns} false DOWN (${ten.suspicions} suspect events over all nodes, all refuted); 20% loss ${twenty.perMemberMinute.toFixed(4)} false DOWN per member-minute (${twenty.suspicions} suspect events)`);
    expect(twenty.perMemberMinute).toBeLessThanOrEqual(0.1);
    // The cluster is whole again once the loss stops.
    expect(await world.until(() => world!.converged(), 10 * INTERVAL)).toBeDefined();
  }, 120_000);

  it('takes a crashed member out of every rotation within 2 intervals, and DOWN everywhere within the suspicion bound', async () => {
    world = (await joinAll(size, 3)).world;
    const crash = await crashOne(world, size - 1);
    console.info(`simulation N=${size}: crashed member out of every rotation after ${crash.outOfRotation} ms, DOWN everywhere after ${crash.down} ms (bound ${downBound(size)} ms)`);
    expect(crash.outOfRotation).toBeDefined();
    expect(crash.outOfRotation).toBeLessThanOrEqual(2 * INTERVAL);
    expect(crash.down).toBeLessThanOrEqual(downBound(size));
  }, 60_000);
});

describe('a simulated cluster of 1000', () => {
  it('converges from one seed, receives at most 4 requests per node per interval, and detects a crash', async () => {
    const joined = await joinAll(1000, 4);
    world = joined.world;
    expect(joined.converged).toBeDefined();
    const rate = await requestsPerInterval(world, 10);
    expect(rate.max).toBeLessThanOrEqual(4);
    const crash = await crashOne(world, 999);
    console.info(`simulation N=1000: full view after ${joined.converged} ms; requests per node per interval mean ${rate.mean.toFixed(2)}, max ${rate.max.toFixed(2)}; crash out of every rotation after ${crash.outOfRotation} ms, DOWN everywhere after ${crash.down} ms`);
    expect(crash.outOfRotation).toBeLessThanOrEqual(2 * INTERVAL);
    expect(crash.down).toBeLessThanOrEqual(downBound(1000));
  }, 240_000);
});
