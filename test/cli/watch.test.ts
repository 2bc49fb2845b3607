/**
 * `express-micro watch` against a real cluster: the table once and a line per change off a
 * terminal, the redraw on one, stopping on its signal, and giving up on peers that stay silent.
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { SECRET, startService, stopAll, waitFor } from '../helpers.ts';
import { deadUrl, runCli, startCluster, startSilenceable, type CliRun } from './support.ts';

afterEach(() => vi.unstubAllEnvs());
afterAll(stopAll);

describe('express-micro watch', () => {
  it('prints the table once, then a line when an instance joins, goes DOWN and leaves; stops on its signal with 0', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const { users } = await startCluster();
    const stop = new AbortController();
    let seen: CliRun = { code: -1, out: '', err: '' };
    const running = runCli(['watch', '--peer', users.url, '--interval', '100'], { signal: stop.signal, onOutput: (run) => (seen = { ...run }) });
    try {
      await waitFor(() => seen.out.includes('2 services, 2 instances: 2 UP\n'), 'the first table', 10_000);
      expect(seen.out).toMatch(/^SERVICE +INSTANCE +ID +STATUS +LAST SEEN +ROUND TRIP +ROUTES +ZONE +LABELS\n/);
      expect(seen.out).not.toContain('\x1b[');

      const extra = await startSilenceable('extra-service', [users.url]);
      const line = (label: string): RegExp => new RegExp(`\\n\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z  ${label} +extra-service ${extra.url} \\(id [0-9a-f]{16}(, version=[^)]+)?\\)\\n`);
      await waitFor(() => line('joined \\(UP\\)').test(seen.out), 'a joined line', 10_000);
      await extra.silence();
      await waitFor(() => line('DOWN').test(seen.out), 'a DOWN line', 15_000);
      // Once; and a suspicion, when a round caught it (it lasts 4 ping intervals), came first.
      expect(seen.out.match(new RegExp(line('DOWN').source, 'g'))).toHaveLength(1);
      const suspected = seen.out.search(line('suspected'));
      if (suspected !== -1) expect(suspected).toBeLessThan(seen.out.search(line('DOWN')));

      const leaver = await startService('leaving-service', () => {}, { peers: [users.url] });
      const leaverLine = (label: string): RegExp => new RegExp(`Z  ${label} +leaving-service ${leaver.url} `);
      await waitFor(() => leaverLine('joined \\(UP\\)').test(seen.out), 'leaving-service joined', 10_000);
      await leaver.stop();
      await waitFor(() => leaverLine('left').test(seen.out), 'leaving-service left', 10_000);
      await extra.stop();
    } finally {
      stop.abort();
    }
    const run = await running;
    expect(run.code).toBe(0);
    expect(run.err).toBe('');
  }, 60_000);

  it('shows subscriptions in the table, and a line when an instance subscribes to an event or stops', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const { users, orders } = await startCluster();
    const stopOrders = orders.micro.subscribe('order.created', () => {});
    // In the table from the first read on: wait until user-service has the new revision.
    await waitFor(() => users.micro.peers().some((peer) => peer.service === 'order-service' && peer.events.length === 1), 'user-service knows order-service subscribes', 10_000);
    const stop = new AbortController();
    let seen: CliRun = { code: -1, out: '', err: '' };
    const running = runCli(['watch', '--peer', users.url, '--interval', '100'], { signal: stop.signal, onOutput: (run) => (seen = { ...run }) });
    try {
      await waitFor(() => seen.out.includes('2 services, 2 instances: 2 UP\n'), 'the first table', 10_000);
      expect(seen.out).toMatch(/^SERVICE +INSTANCE +ID +STATUS +LAST SEEN +ROUND TRIP +ROUTES +EVENTS +ZONE +LABELS\n/);
      expect(seen.out).toMatch(new RegExp(`\\norder-service +${orders.url} .* +1 +order\\.created +- +\\S+\\n`));
      const line = (events: string): RegExp => new RegExp(`\\n\\S+Z  subscriptions +user-service ${users.url} \\(id [0-9a-f]{16}(, version=[^)]+)?, events ${events.replace(/\./g, '\\.')}\\)\\n`);
      const stopUsers = users.micro.subscribe('cache.flush', () => {}, { group: 'caches' });
      await waitFor(() => line('cache.flush').test(seen.out), 'a subscriptions line', 10_000);
      stopUsers();
      await waitFor(() => line('-').test(seen.out), 'a subscriptions line with none left', 10_000);
      expect(seen.out.match(/ subscriptions /g)).toHaveLength(2);
    } finally {
      stop.abort();
      stopOrders();
    }
    const run = await running;
    expect(run.code).toBe(0);
    expect(run.err).toBe('');
  }, 30_000);

  it('redraws in place on a terminal, cut to its width, with the latest changes under the table', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const { users } = await startCluster();
    const stop = new AbortController();
    let seen: CliRun = { code: -1, out: '', err: '' };
    const running = runCli(['watch', '--peer', users.url, '--interval', '100'], { signal: stop.signal, isTerminal: true, columns: 60, onOutput: (run) => (seen = { ...run }) });
    try {
      await waitFor(() => (seen.out.match(/\x1b\[H/g) ?? []).length >= 2, 'two frames', 10_000);
    } finally {
      stop.abort();
    }
    expect((await running).code).toBe(0);
    expect(seen.out.startsWith('\x1b[2J\x1b[H')).toBe(true);
    const frame = seen.out.slice(seen.out.lastIndexOf('\x1b[H') + 3);
    const lines = frame.split('\n').map((line) => line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''));
    expect(lines[0]).toMatch(/^express-micro watch: 1 of 1 peers answering/);
    expect(lines.find((line) => line.startsWith('SERVICE'))).toBeDefined();
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(60);
  }, 30_000);

  it('gives up with exit code 2 when no peer answers for 10 intervals, and says after how long', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const dead = await deadUrl();
    const started = Date.now();
    const run = await runCli(['watch', '--peer', dead, '--interval', '100']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(run.code).toBe(2);
    expect(run.out).toMatch(new RegExp(`^\\S+Z  unreachable {5}cannot reach ${dead}: .*\\n$`));
    expect(run.err).toMatch(new RegExp(`^express-micro watch: no peer has answered for \\d+\\.\\d s \\(watch gives up after 10 intervals\\): cannot reach ${dead}: `));
  }, 30_000);

  it.each([
    [['watch', '--interval', '10'], '--interval "10": give a whole number of milliseconds, at least 100'],
    [['watch', '--interval', 'soon'], '--interval "soon": give a whole number of milliseconds, at least 100'],
    [['watch', '--json'], 'unknown option --json'],
  ])('%j: exit 2 and one line: %s', async (argv, message) => {
    expect(await runCli(argv)).toEqual({ code: 2, out: '', err: `express-micro watch: ${message}\n` });
  });
});
