/**
 * `express-micro status` against a real cluster (Bearer and HMAC): the table and --json, the exit
 * codes (all UP, one DOWN, no peer), and every way reaching the cluster can fail.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ClusterView } from '../../src/cli/cluster-view.ts';
import { SECRET, startService, stopAll, waitFor } from '../helpers.ts';
import { deadUrl, runCli, startCluster, startSilenceable, type TestCluster } from './support.ts';

const folder = mkdtempSync(join(tmpdir(), 'express-micro-status-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

const HEADER = /^SERVICE +INSTANCE +ID +STATUS +LAST SEEN +ROUND TRIP +ROUTES +ZONE +LABELS$/;
/** The ZONE and LABELS cells of an instance started without them: `-`, and the version `npx` may supply. */
const NO_LABELS = ' +- +(-|version=\\S+)';

describe('express-micro status, Bearer', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 30_000);
  afterAll(stopAll);

  it('prints one row per instance, sorted by service, and exits 0 when every one is UP', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const run = await runCli(['status', '--peer', cluster.users.url]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const lines = run.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(HEADER);
    expect(lines).toHaveLength(4);
    // The peer itself (seen now, no probe of itself), then the instance it probes.
    expect(lines[1]).toMatch(new RegExp(`^order-service +${cluster.orders.url} +[0-9a-f]{16} +UP +(now|\\d+\\.\\d s ago) +(\\d+\\.\\d\\d ms|\\d+ ms|-) +1${NO_LABELS}$`));
    expect(lines[2]).toMatch(new RegExp(`^user-service +${cluster.users.url} +(-|[0-9a-f]{16}) +UP +now +- +3${NO_LABELS}$`));
    expect(lines[3]).toBe('2 services, 2 instances: 2 UP');
    expect(run.out).not.toContain('\x1b['); // no colour off a terminal
  });

  it('prints the same view as JSON with --json, and paints the status column on a terminal', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const run = await runCli(['status', '--peer', cluster.users.url, '--json']);
    expect(run.code).toBe(0);
    const view = JSON.parse(run.out) as ClusterView;
    expect(view.reached).toEqual([cluster.users.url]);
    expect(view.unreachable).toEqual([]);
    expect(typeof view.at).toBe('number');
    expect(view.rows.map((row) => [row.service, row.url, row.status, row.ejected, row.routes])).toEqual([
      ['order-service', cluster.orders.url, 'UP', false, 1],
      ['user-service', cluster.users.url, 'UP', false, 3],
    ]);
    const order = view.rows[0];
    expect(order?.id).toMatch(/^[0-9a-f]{16}$/);
    expect(order?.lastSeen).toBeGreaterThan(view.at - 10_000);
    expect(view.rows[1]?.lastSeen).toBe(view.at);
    expect(view.rows[1]?.roundTripMs).toBeNull();

    const painted = await runCli(['status', '--peer', cluster.users.url], { isTerminal: true });
    expect(painted.out).toContain('\x1b[32mUP');
    vi.stubEnv('NO_COLOR', '1');
    expect((await runCli(['status', '--peer', cluster.users.url], { isTerminal: true })).out).not.toContain('\x1b[');
  });

  it('shows the events an instance subscribes to, in the table and as JSON (with their groups), from itself and from a peer', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const unsubscribe = [
      cluster.orders.micro.subscribe('order.created', () => {}),
      cluster.orders.micro.subscribe('cache.flush', () => {}, { group: 'caches' }),
    ];
    try {
      const expected = [
        { event: 'cache.flush', group: 'caches' },
        { event: 'order.created', group: 'order-service' },
      ];
      // Asked itself, at once; asked through user-service, once the new revision reached it.
      for (const peer of [cluster.orders.url, cluster.users.url]) {
        let view: ClusterView | undefined;
        await waitFor(async () => {
          view = JSON.parse((await runCli(['status', '--peer', peer, '--json'])).out) as ClusterView;
          return view.rows.find((row) => row.service === 'order-service')?.events.length === 2;
        }, `order-service's subscriptions seen through ${peer}`, 10_000);
        expect(view?.rows.map((row) => [row.service, row.events])).toEqual([
          ['order-service', expected],
          ['user-service', []],
        ]);
        const run = await runCli(['status', '--peer', peer]);
        expect(run.code).toBe(0);
        const lines = run.out.trimEnd().split('\n');
        expect(lines[0]).toMatch(/^SERVICE +INSTANCE +ID +STATUS +LAST SEEN +ROUND TRIP +ROUTES +EVENTS +ZONE +LABELS$/);
        expect(lines[1]).toMatch(new RegExp(`^order-service +${cluster.orders.url} .* +1 +cache\\.flush,order\\.created${NO_LABELS}$`));
        expect(lines[2]).toMatch(new RegExp(`^user-service +${cluster.users.url} .* +3 +-${NO_LABELS}$`));
      }
    } finally {
      for (const stop of unsubscribe) stop();
    }
  });

  it('merges the views of several peers into one row per instance', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const run = await runCli(['status', '--peer', cluster.users.url, '--peer', cluster.orders.url, '--json']);
    expect(run.code).toBe(0);
    const view = JSON.parse(run.out) as ClusterView;
    expect(view.reached).toEqual([cluster.users.url, cluster.orders.url]);
    // Each peer describes itself (seen now) and the other: two rows, both told by themselves.
    expect(view.rows.map((row) => [row.service, row.status, row.lastSeen === view.at])).toEqual([
      ['order-service', 'UP', true],
      ['user-service', 'UP', true],
    ]);
  });

  it('reads the secret from --secret-file as the services do', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', '');
    const file = join(folder, 'right.key');
    writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    const run = await runCli(['status', '--peer', cluster.users.url, '--secret-file', file]);
    expect(run.code).toBe(0);
    expect(run.out).toContain('2 services, 2 instances: 2 UP');
  });

  it('refuses a wrong secret, a missing one and --hmac against a Bearer cluster with one line and exit 2', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', 'wrong-secret-0123456789abcdef0123456789');
    expect(await runCli(['status', '--peer', cluster.users.url])).toEqual({
      code: 2,
      out: '',
      err: `express-micro status: ${cluster.users.url} refused the secret (401: missing or wrong bearer token); set EXPRESS_DISCOVERY_KEY (or --secret-file) to the secret the services use\n`,
    });
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', '');
    const missing = await runCli(['status', '--peer', cluster.users.url, '--secret-file', join(folder, 'absent.key')]);
    expect(missing).toEqual({ code: 2, out: '', err: `express-micro status: --secret-file ${join(folder, 'absent.key')}: no such file\n` });
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const signed = await runCli(['status', '--peer', cluster.users.url, '--hmac']);
    expect(signed.code).toBe(2);
    expect(signed.err).toMatch(/^express-micro status: .* refused the secret \(401: .*\); the cluster does not sign its requests: drop --hmac\n$/);
  });

  it('exits 1 with a warning when one --peer does not answer but another does', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const dead = await deadUrl();
    const run = await runCli(['status', '--peer', cluster.users.url, '--peer', dead]);
    expect(run.code).toBe(1);
    expect(run.out).toContain('2 services, 2 instances: 2 UP');
    expect(run.err).toMatch(new RegExp(`^express-micro status: warning: cannot reach ${dead}: .*; is a service listening there\\?\\n$`));
  });
});

describe('express-micro status, exit codes', () => {
  afterAll(stopAll);

  it('exits 2 with one line when no peer answers (and still prints the view with --json)', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const dead = await deadUrl();
    const run = await runCli(['status', '--peer', dead]);
    expect(run).toEqual({ code: 2, out: '', err: `express-micro status: cannot reach ${dead}: cannot connect (ECONNREFUSED); is a service listening there?\n` });
    const json = await runCli(['status', '--peer', dead, '--json']);
    expect(json.code).toBe(2);
    expect((JSON.parse(json.out) as ClusterView).unreachable).toEqual([{ origin: dead, reason: expect.stringContaining(`cannot reach ${dead}`) }]);
  });

  it('says there is no secret when neither the variable nor the file exists', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', '');
    vi.stubEnv('TMPDIR', folder); // the default secret file is looked for there, and is absent
    const run = await runCli(['status', '--peer', await deadUrl()]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/^express-micro status: no secret: EXPRESS_DISCOVERY_KEY is not set and there is no secret file at .*; for a cluster elsewhere, set EXPRESS_DISCOVERY_KEY\)\n$/);
  });

  it('exits 1 once an instance is no longer UP, and shows it SUSPECT or DOWN', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const { users } = await startCluster();
    const extra = await startSilenceable('extra-service', [users.url]);
    try {
      await waitFor(async () => (await runCli(['status', '--peer', users.url])).out.includes('3 services, 3 instances: 3 UP'), 'extra-service UP in the table', 10_000);
      await extra.silence();
      let last = await runCli(['status', '--peer', users.url]);
      await waitFor(async () => (last = await runCli(['status', '--peer', users.url])).code === 1, 'status exits 1', 10_000);
      expect(last.out).toMatch(new RegExp(`\\nextra-service +${extra.url} +[0-9a-f]{16} +(SUSPECT|DOWN) `));
      await waitFor(async () => (last = await runCli(['status', '--peer', users.url])).out.includes('3 services, 3 instances: 2 UP, 1 DOWN'), 'extra-service DOWN', 10_000);
      expect(last.code).toBe(1);
    } finally {
      await extra.stop();
    }
  }, 40_000);
});

describe('express-micro status, HMAC', () => {
  afterAll(stopAll);

  it('reads a signing cluster with --hmac, and says to add --hmac without it', async () => {
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', SECRET);
    const { users } = await startCluster({ enableHmac: true });
    const run = await runCli(['status', '--peer', users.url, '--hmac']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain('2 services, 2 instances: 2 UP');
    const plain = await runCli(['status', '--peer', users.url]);
    expect(plain.code).toBe(2);
    expect(plain.err).toMatch(/refused the secret \(401: .*\); the cluster signs its requests \(enableHmac\): add --hmac\n$/);
  }, 30_000);
});

describe('express-micro status, bad input', () => {
  it.each([
    [['status', '--nope'], 'unknown option --nope'],
    [['status', 'extra'], 'unexpected argument "extra" (options start with --)'],
    [['status', '--peer', 'localhost:3000'], '--peer localhost:3000: only http: and https: URLs are supported'],
    [['status', '--json=yes'], '--json takes no value'],
  ])('%j: exit 2 and one line: %s', async (argv, message) => {
    expect(await runCli(argv)).toEqual({ code: 2, out: '', err: `express-micro status: ${message}\n` });
  });

  it('has --help with its exit codes', async () => {
    const help = await runCli(['status', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: express-micro status /);
    expect(help.out).toContain('Exit codes: 0 every instance is UP; 1 an instance is SUSPECT or DOWN');
  });
});

describe('express-micro status, mid-rotation', () => {
  const OLD = 'status-old-secret-0123456789';
  const NEW = 'status-new-secret-9876543210';
  let cluster: TestCluster;
  beforeAll(async () => {
    // Both members are in the third phase: they send NEW and still accept OLD.
    cluster = await startCluster({ secret: [NEW, OLD] });
  }, 30_000);
  afterAll(stopAll);

  it('counts what the instances accepted under a previous secret, and falls back to EXPRESS_DISCOVERY_KEY_PREVIOUS on a peer that refuses the new one', async () => {
    // A command still holding OLD is counted by every instance it reads.
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', OLD);
    const counted = await runCli(['status', '--peer', cluster.users.url, '--json']);
    expect(counted.code).toBe(0);
    const use = (JSON.parse(counted.out) as { previousSecret: { accepted: number; instances: number; read: number; lastAcceptedAt: number } }).previousSecret;
    expect(use.accepted).toBeGreaterThanOrEqual(2); // the services read and the metrics read
    expect(use.instances).toBe(2);
    expect(use.read).toBe(2);
    expect(use.lastAcceptedAt).toBeGreaterThan(Date.now() - 60_000);
    const table = await runCli(['status', '--peer', cluster.users.url]);
    expect(table.out.trimEnd().split('\n').at(-1)).toMatch(/^previous secret: \d+ requests accepted by 2 of 2 instances, the last (now|\d+\.\d s ago)$/);

    const oldOnly = await startService('old-only', undefined, { secret: OLD });
    vi.stubEnv('EXPRESS_DISCOVERY_KEY', NEW);
    expect((await runCli(['status', '--peer', oldOnly.url])).code).toBe(2); // refused: NEW is not its secret
    vi.stubEnv('EXPRESS_DISCOVERY_KEY_PREVIOUS', OLD);
    const fallback = await runCli(['status', '--peer', oldOnly.url]);
    expect(fallback.err).toBe('');
    expect(fallback.out).toContain(oldOnly.url);
  });
});
