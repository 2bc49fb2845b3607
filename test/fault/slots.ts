/**
 * Rolling restarts under load (drain.test.ts, rotation.test.ts): instance slots whose successive
 * processes reuse one port, and the restart of one slot in place. No runner imports: the exit is
 * returned for the test to check, so this runs under every runtime's suite.
 */
import { terminate, waitFor, type ChildService } from '../helpers.ts';
import type { FaultService } from './helpers.ts';
import type { Load } from './load.ts';

/** One instance slot: a port its successive processes reuse. */
export interface Slot {
  port: number;
  url: string;
  child: ChildService;
}

/** The ids `caller` sees UP for user-service at `url`. */
export function upIds(caller: FaultService, url: string): string[] {
  return caller.micro.peers().filter((peer) => peer.service === 'user-service' && peer.url === url && peer.status === 'UP').map((peer) => peer.id);
}

/** Starts `count` slots one after the other; `spawn` gets the URLs of those started before. */
export async function startSlots(count: number, spawn: (earlier: string[]) => Promise<ChildService>): Promise<Slot[]> {
  const slots: Slot[] = [];
  for (let index = 0; index < count; index++) {
    const child = await spawn(slots.map((slot) => slot.url));
    slots.push({ port: child.port, url: child.url, child });
  }
  return slots;
}

/**
 * Restarts `slot` in place: SIGTERM and the wait for its exit (within `exitBound`), then
 * `spawn(port)`, then until `caller()` sees a new id UP at the slot's URL and `load` counts 20
 * more calls served by it. Resolves with how the old process exited.
 */
export async function restartSlot(
  slot: Slot,
  { caller, load, spawn, exitBound, label }: { caller: () => FaultService; load: Load; spawn: (port: number) => Promise<ChildService>; exitBound: number; label: string },
): Promise<{ code: number | null; signal: string | null }> {
  const before = upIds(caller(), slot.url)[0];
  const exit = await terminate(slot.child, exitBound);
  slot.child = await spawn(slot.port);
  await waitFor(() => upIds(caller(), slot.url).some((id) => id !== before), `the caller sees ${slot.url} UP again (${label})`, 10_000);
  const served = load.servedBy.get(slot.port) ?? 0;
  await waitFor(() => (load.servedBy.get(slot.port) ?? 0) > served + 20, `the restarted ${slot.url} serves calls (${label})`, 10_000);
  return exit;
}
