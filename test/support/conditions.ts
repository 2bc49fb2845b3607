/**
 * Waiting on conditions, shared by every runtime's suite (vitest, bun test, deno test): no test
 * runner imports here, only the language.
 */
import type { ExpressMicro } from '../../src/index.ts';

/** Polls `condition` every 10 ms until it holds; throws after `timeout` ms, naming what it waited for. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** URLs of the instances of `service` that `micro` counts as UP (itself excluded). */
export function upInstances(micro: ExpressMicro, service: string): string[] {
  return micro
    .peers()
    .filter((peer) => peer.service === service && peer.status === 'UP' && !peer.self)
    .map((peer) => peer.url);
}
