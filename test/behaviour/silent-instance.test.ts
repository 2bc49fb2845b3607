/**
 * An instance that goes silent mid-load (a partition, not a crash): its process is stopped with
 * SIGSTOP, so the kernel still accepts connections and nothing ever answers, which is what a cut
 * network looks like to the caller. Idempotent calls in flight to it must move to the other
 * instance: by the per-attempt timeout, or at once when the instance is marked DOWN.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ExpressMicroOptions } from '../../src/index.ts';
import { killAll, spawnService, startService, stopAll, upInstances, waitFor, type ChildService, type TestService } from '../helpers.ts';

afterEach(async () => {
  await stopAll();
  await killAll();
});

const IN_FLIGHT = 16;

/** SIGCONT by pid: Deno's child.kill() does not send SIGCONT (it returns false), process.kill does. */
function resume(service: ChildService): void {
  if (service.child.pid !== undefined && service.child.exitCode === null) process.kill(service.child.pid, 'SIGCONT');
}

interface LoadResult {
  ok: number;
  failed: string[];
  /** Calls that settled after the instance went silent. */
  afterSilence: number;
}

/**
 * Keeps 16 GETs in flight; after `before` calls have succeeded it stops `victim`, then runs until
 * `after` more calls have settled. Bounded by count and by 30 s.
 */
async function loadWithSilence(call: () => Promise<unknown>, victim: ChildService, before: number, after: number): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failed: [], afterSilence: 0 };
  let silent = false;
  const bound = Date.now() + 30_000;
  const worker = async (): Promise<void> => {
    while (result.afterSilence < after && Date.now() < bound) {
      try {
        await call();
        result.ok++;
      } catch (error) {
        result.failed.push(`${(error as Error).name}: ${(error as Error).message}`);
      }
      if (silent) result.afterSilence++;
      if (!silent && result.ok >= before) {
        silent = true;
        victim.child.kill('SIGSTOP');
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  resume(victim);
  return result;
}

/** The caller of the last cluster(), for a test that watches its table. */
let callerOf: TestService;

async function cluster(caller: ExpressMicroOptions, members: Record<string, unknown> = {}) {
  const first = await spawnService('user-service', members);
  const second = await spawnService('user-service', { peers: [first.url], ...members });
  const client = await startService('order-service', () => {}, { peers: [first.url], ...caller });
  await waitFor(() => upInstances(client.micro, 'user-service').length === 2, 'both user-service instances UP', 10_000);
  const getUser = (): Promise<unknown> => client.micro.services.userService.getUser({ id: 7 });
  // On a failure, what the caller saw: its retries by reason and its table (a failure here has
  // been a busy machine's story before; this makes the next one tell it).
  const explain = (result: LoadResult): void => {
    if (result.failed.length === 0) return;
    const retries = (client.micro.metrics().express_micro_retries_total?.samples ?? []).map((sample) => `${sample.labels.reason}=${'value' in sample ? sample.value : '?'}`);
    const table = client.micro.peers().filter((peer) => peer.service === 'user-service').map((peer) => `${peer.url} ${peer.status}${peer.suspect ? ' suspect' : ''}${peer.ejected ? ' ejected' : ''}`);
    console.info(`${result.failed.length} failed, first: ${result.failed.slice(0, 3).join(' | ')}; retries ${retries.join(' ')}; table ${table.join(', ')}`);
  };
  callerOf = client;
  return { first, second, getUser, explain };
}

describe('an instance that goes silent mid-load', () => {
  it('fails no GET with the defaults (per-attempt timeout and re-issue on DOWN)', async () => {
    const { second, getUser, explain } = await cluster({ timeout: 5000 });
    const result = await loadWithSilence(getUser, second, 200, 400);
    // Deno's runner shortens arrays in assertion messages: name the first failures in full.
    explain(result);
    expect(result.failed.slice(0, 3)).toEqual([]);
    expect(result.afterSilence).toBeGreaterThanOrEqual(400);
  }, 40_000);

  it('fails no GET by the per-attempt timeout alone, when no ping notices the silence', async () => {
    const { second, getUser, explain } = await cluster({ timeout: 5000, pingInterval: 600_000 });
    const result = await loadWithSilence(getUser, second, 200, 400);
    // Deno's runner shortens arrays in assertion messages: name the first failures in full.
    explain(result);
    expect(result.failed.slice(0, 3)).toEqual([]);
  }, 40_000);

  it('fails no GET by the re-issue on DOWN alone, with the per-attempt timeout off', async () => {
    // DOWN comes after the suspicion: up to 6 × 4 × 200 ms = 4.8 s when only one member suspects,
    // longer on a loaded machine. The deadline must outlast that, or a GET fails by the deadline
    // with the re-issue working; 20 s still fails the test if the re-issue never happens.
    const { second, getUser, explain } = await cluster({ timeout: 20_000, attemptTimeout: false });
    const result = await loadWithSilence(getUser, second, 200, 400);
    // Deno's runner shortens arrays in assertion messages: name the first failures in full.
    explain(result);
    expect(result.failed.slice(0, 3)).toEqual([]);
  }, 40_000);

  it('waits, within the deadline, for an instance to come back when every one went DOWN mid-call', async () => {
    // Both instances silenced with GETs in flight: each is re-issued when its instance goes DOWN,
    // finds none UP, and waits; the second comes back (SIGCONT: it refutes its death) and takes them.
    const { first, second, getUser, explain } = await cluster({ timeout: 20_000, attemptTimeout: false });
    const client = { up: () => upInstances(callerOf.micro, 'user-service') };
    first.child.kill('SIGSTOP');
    second.child.kill('SIGSTOP');
    const calls = Array.from({ length: 8 }, () => getUser().then(() => 'ok', (error: Error) => `${error.name}: ${error.message}`));
    try {
      await waitFor(() => client.up().length === 0, 'both DOWN at the caller', 15_000);
      resume(second);
      const outcomes = await Promise.all(calls);
      explain({ ok: outcomes.filter((outcome) => outcome === 'ok').length, failed: outcomes.filter((outcome) => outcome !== 'ok'), afterSilence: 8 });
      expect(outcomes).toEqual(Array.from({ length: 8 }, () => 'ok'));
    } finally {
      resume(first);
      resume(second);
    }
  }, 40_000);

  it('loses the calls in flight to it when both are off (what the two mechanisms prevent)', async () => {
    // No probes anywhere: the other user-service would otherwise suspect the silent one and
    // gossip it to the caller, which moves the calls (membership's own rescue).
    const { second, getUser } = await cluster({ timeout: 1000, attemptTimeout: false, pingInterval: 600_000 }, { pingInterval: 600_000 });
    const result = await loadWithSilence(getUser, second, 200, 100);
    expect(result.failed.length).toBeGreaterThan(0);
    expect(result.failed[0]).toMatch(/^TimeoutError/);
  }, 40_000);
});
