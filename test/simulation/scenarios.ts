/**
 * The simulation's scenarios, shared by its test (test/simulation/membership.test.ts) and by
 * the membership benchmark (scripts/bench-membership-sim.ts), which reports the same figures.
 */
import { World, type SimulatedNode } from './world.ts';

/** Starts `size` nodes, each given node 0 as its only seed, 20 per 10 ms; returns the world and the ms to a full view. */
export async function joinAll(size: number, seed: number, interval = 1000): Promise<{ world: World; converged: number | undefined }> {
  const world = new World(seed, interval);
  const first = world.add([]);
  for (let index = 1; index < size; index++) {
    world.add([first.url]);
    if (index % 20 === 0) await world.clock.advance(10);
  }
  const converged = await world.until(() => world.converged(), 60 * interval, interval / 10);
  return { world, converged };
}

/** Discovery requests received per node per interval over `intervals` quiet intervals: mean and max. */
export async function requestsPerInterval(world: World, intervals: number): Promise<{ mean: number; max: number }> {
  for (const node of world.nodes) node.received = 0;
  await world.clock.advance(intervals * world.interval);
  const rates = world.nodes.filter((node) => !node.crashed).map((node) => node.received / intervals);
  return { mean: rates.reduce((sum, rate) => sum + rate, 0) / rates.length, max: Math.max(...rates) };
}

/** Runs `minutes` simulated minutes with `loss` on every message; counts DOWN and suspect events (all false: nobody died). */
export async function underLoss(world: World, loss: number, minutes: number): Promise<{ falseDowns: number; suspicions: number; perMemberMinute: number }> {
  const downsBefore = world.nodes.reduce((sum, node) => sum + node.downs.length, 0);
  const suspectsBefore = world.nodes.reduce((sum, node) => sum + node.suspects.length, 0);
  world.faults = { loss, delay: [1, 5] };
  await world.clock.advance(minutes * 60_000);
  world.faults = { loss: 0, delay: [1, 5] };
  const falseDowns = world.nodes.reduce((sum, node) => sum + node.downs.length, 0) - downsBefore;
  const suspicions = world.nodes.reduce((sum, node) => sum + node.suspects.length, 0) - suspectsBefore;
  return { falseDowns, suspicions, perMemberMinute: falseDowns / (world.nodes.length * minutes) };
}

/** Out of this node's call rotation: suspected, DOWN, or gone. */
function outOfRotation(node: SimulatedNode, id: string): boolean {
  const instance = node.cluster.table.get(id);
  return !instance || instance.status === 'DOWN' || instance.suspect;
}

/** Crashes one node; ms until every other node has it out of its rotation, and until it is DOWN (or gone) everywhere. */
export async function crashOne(world: World, index: number): Promise<{ outOfRotation: number | undefined; down: number | undefined }> {
  const victim = world.nodes[index] as SimulatedNode;
  victim.crashed = true;
  const others = world.nodes.filter((node) => !node.crashed);
  const start = world.clock.now();
  const out = await world.until(() => others.every((node) => outOfRotation(node, victim.cluster.id)), 60 * world.interval, world.interval / 20);
  const down = await world.until(
    () => others.every((node) => (node.cluster.table.get(victim.cluster.id)?.status ?? 'DOWN') === 'DOWN'),
    120 * world.interval,
    world.interval / 20,
  );
  return { outOfRotation: out, down: down === undefined ? undefined : world.clock.now() - start };
}
