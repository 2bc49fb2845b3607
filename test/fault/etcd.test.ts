// The etcd registry under faults, in the shared suite (Node, Bun and Deno; the instances that are
// killed run as child processes of the runtime under test): a SIGKILLed instance, a three-member
// etcd cluster losing one member or all of them, compaction behind a broken watch, etcd's
// authentication, mutual TLS. test/behaviour/etcd-registry.test.ts covers one member. Needs the
// build (spawnService runs dist/).
import { afterEach, describe, expect, it } from 'vitest';
import type { ExpressMicroOptions } from '../../src/index.ts';
import { killAll, spawnService, startService, recordingLogger, stopAll, upInstances, waitFor, type TestService } from '../helpers.ts';
import { b64, etcdCall, etcdKeys, etcdMissing, EtcdCluster } from '../support/etcd.ts';
import { certificates, hasOpenssl } from '../support/certificates.ts';

const reason = etcdMissing();
if (reason) console.log(reason);


let etcd: EtcdCluster | undefined;
let count = 0;
afterEach(async () => {
  await stopAll();
  await killAll();
  await etcd?.stop();
  etcd = undefined;
});

const registry = (endpoints: string[], prefix: string, extra: Record<string, unknown> = {}): ExpressMicroOptions['registry'] => ({ type: 'etcd', endpoints, prefix, ...extra }) as ExpressMicroOptions['registry'];
const start = (name: string, options: ExpressMicroOptions): Promise<TestService> =>
  startService(name, (app) => app.get('/users/:id', (req, res) => void res.json({ id: req.params.id, name })), options);

(reason ? describe.skip : describe)('registry: etcd under faults', () => {
  it('takes a SIGKILLed instance out of rotation at the first refused call, and its record goes within ttl', async () => {
    etcd = await EtcdCluster.start(1);
    const prefix = `/em-fault-${++count}/`;
    const ttl = 3;
    const options = { registry: registry(etcd.endpoints, prefix, { ttl }) };
    const victim = await spawnService('user-service', options);
    const survivor = await spawnService('user-service', options);
    const caller = await start('order-service', options);
    await waitFor(() => upInstances(caller.micro, 'user-service').length === 2, 'both user-service instances seen');
    await victim.kill();
    const killedAt = Date.now();
    // Every call succeeds: the one that meets the refused port moves on, and the instance leaves the rotation.
    for (let index = 0; index < 20; index++) expect(await caller.micro.services.userService.getUser({ id: index })).toMatchObject({ id: String(index) });
    expect(upInstances(caller.micro, 'user-service').filter((url) => url !== victim.url)).toEqual([survivor.url]);
    const seen = caller.micro.peers().find((peer) => peer.url === victim.url);
    if (seen) expect(seen.suspect || seen.status === 'DOWN').toBe(true);
    await waitFor(() => !caller.micro.peers().some((peer) => peer.url === victim.url), 'the victim removed', (ttl + 3) * 1000);
    expect(Date.now() - killedAt).toBeLessThan((ttl + 2) * 1000);
    expect((await etcdKeys(etcd.endpoints[0] as string, `${prefix}user-service/`)).length).toBe(1);
  }, 30_000);

  it('loses one of three etcd members: nobody is deregistered, and joins still work', async () => {
    etcd = await EtcdCluster.start(3);
    const prefix = `/em-fault-${++count}/`;
    const options = { registry: registry(etcd.endpoints, prefix, { ttl: 3 }) };
    const a = await start('user-service', options);
    const b = await start('order-service', options);
    await waitFor(() => upInstances(b.micro, 'user-service').length === 1 && upInstances(a.micro, 'order-service').length === 1, 'each sees the other');
    const removed: string[] = [];
    b.micro.on('removed', (instance) => removed.push(instance.url));
    a.micro.on('removed', (instance) => removed.push(instance.url));
    // The member both instances talk to first.
    await etcd.kill(0);
    const c = await start('stock-service', options);
    await waitFor(() => upInstances(b.micro, 'stock-service').length === 1 && upInstances(c.micro, 'user-service').length === 1, 'a join through the other members', 10_000);
    // Two lease periods later, the first two are still registered and seen.
    const until = Date.now() + 6000;
    await waitFor(() => Date.now() > until, 'two ttl periods', 7000);
    expect(removed).toEqual([]);
    expect((await etcdKeys(etcd.endpoints[1] as string, prefix)).length).toBe(3);
    expect(upInstances(c.micro, 'order-service')).toEqual([b.url]);
  }, 40_000);

  it('runs through ten seconds without any etcd member: no failed call, nobody dropped, joins after', async () => {
    etcd = await EtcdCluster.start(3);
    const prefix = `/em-fault-${++count}/`;
    const { logger, lines } = recordingLogger();
    const options = { registry: registry(etcd.endpoints, prefix, { ttl: 3 }) };
    const a1 = await start('user-service', options);
    const a2 = await start('user-service', options);
    const b = await start('order-service', { ...options, logger });
    await waitFor(() => upInstances(b.micro, 'user-service').length === 2, 'both user-service instances seen');
    const events: string[] = [];
    for (const event of ['down', 'removed', 'suspect'] as const) b.micro.on(event, (instance) => events.push(`${event} ${instance.url}`));
    await Promise.all([0, 1, 2].map((index) => etcd?.kill(index)));
    const downUntil = Date.now() + 10_000;
    let calls = 0;
    while (Date.now() < downUntil && calls < 100_000) {
      await b.micro.services.userService.getUser({ id: calls });
      calls++;
    }
    expect(calls).toBeGreaterThan(10);
    expect(events).toEqual([]);
    expect(upInstances(b.micro, 'user-service').sort()).toEqual([a1.url, a2.url].sort());
    expect(lines.filter((line) => line.includes('etcd is unreachable'))).toHaveLength(1);
    for (const index of [0, 1, 2]) etcd.restart(index);
    await etcd.healthy();
    const c = await start('stock-service', options);
    await waitFor(() => upInstances(b.micro, 'stock-service').length === 1 && upInstances(c.micro, 'user-service').length === 2, 'a join after the outage', 15_000);
    // Leases survive a restart of the whole cluster (its new leader renews them): still nobody dropped.
    const until = Date.now() + 4000;
    await waitFor(() => Date.now() > until, 'a ttl period after', 5000);
    expect(events).toEqual([]);
    expect((await etcdKeys(etcd.endpoints[0] as string, prefix)).length).toBe(4);
    expect(lines.filter((line) => line.includes('etcd answers again'))).toHaveLength(1);
  }, 60_000);

  it('reads again and applies the difference when its watch fell behind a compaction', async () => {
    etcd = await EtcdCluster.start(3);
    const prefix = `/em-fault-${++count}/`;
    const { logger, lines } = recordingLogger();
    const [m0, m1] = etcd.endpoints as [string, string];
    // The watcher talks to m0 only, so that it misses what happens while m0 is away.
    const watcher = await start('order-service', { registry: registry([m0], prefix, { ttl: 5 }), logger });
    const descriptor = (name: string, id: string, port: number) => JSON.stringify({ protocol: 2, name, id, url: `http://127.0.0.1:${port}`, routes: [], rev: 'r1', incarnation: 0 });
    await etcdCall(m1, '/v3/kv/put', { key: b64(`${prefix}old-service/cccccccc1`), value: b64(descriptor('old-service', 'cccccccc1', 7)) });
    await waitFor(() => upInstances(watcher.micro, 'old-service').length === 1, 'the old record seen');
    await etcd.kill(0);
    await etcd.healthy();
    await etcdCall(m1, '/v3/kv/deleterange', { key: b64(`${prefix}old-service/cccccccc1`) });
    const put = await etcdCall(m1, '/v3/kv/put', { key: b64(`${prefix}new-service/cccccccc2`), value: b64(descriptor('new-service', 'cccccccc2', 8)) });
    const revision = (put.header as { revision: string }).revision;
    const compacted = await etcdCall(m1, '/v3/kv/compaction', { revision, physical: true });
    expect(compacted.error).toBeUndefined();
    etcd.restart(0);
    await waitFor(() => upInstances(watcher.micro, 'new-service').length === 1 && upInstances(watcher.micro, 'old-service').length === 0, 'the difference applied', 20_000);
    expect(lines.some((line) => line.includes('fell behind a compaction'))).toBe(true);
  }, 40_000);

  it('registers as an etcd user, and says once, clearly, when the credentials are wrong', async () => {
    etcd = await EtcdCluster.start(1);
    const endpoint = etcd.endpoints[0] as string;
    const prefix = `/em-fault-${++count}/`;
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    for (const [path, body] of [
      ['/v3/auth/user/add', { name: 'root', password: 'root-pw' }],
      ['/v3/auth/user/grant', { user: 'root', role: 'root' }],
      ['/v3/auth/role/add', { name: 'micro' }],
      ['/v3/auth/role/grant', { name: 'micro', perm: { permType: 'READWRITE', key: b64(prefix), range_end: b64(end) } }],
      ['/v3/auth/user/add', { name: 'micro', password: 'micro-pw' }],
      ['/v3/auth/user/grant', { user: 'micro', role: 'micro' }],
      ['/v3/auth/enable', {}],
    ] as const) {
      const answer = await etcdCall(endpoint, path, body);
      expect(answer.error, path).toBeUndefined();
    }
    const a = await start('user-service', { registry: registry([endpoint], prefix, { username: 'micro', password: 'micro-pw' }) });
    const b = await start('order-service', { registry: registry([endpoint], prefix, { username: 'micro', password: 'micro-pw' }) });
    await waitFor(() => upInstances(b.micro, 'user-service').length === 1 && upInstances(a.micro, 'order-service').length === 1, 'each sees the other through etcd with auth');
    expect(await b.micro.services.userService.getUser({ id: 1 })).toMatchObject({ id: '1' });

    const { logger, lines } = recordingLogger();
    const bad = await start('bad-service', { registry: registry([endpoint], prefix, { username: 'micro', password: 'wrong-pw' }), logger });
    await bad.micro.ready;
    await waitFor(() => lines.some((line) => line.startsWith('error')), 'the refusal logged');
    // Several retries later, still one line, naming the user and never the password.
    const until = Date.now() + 2500;
    await waitFor(() => Date.now() > until, 'a few retries', 3000);
    const errors = lines.filter((line) => line.startsWith('error') || line.startsWith('warn'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/etcd refused user "micro".*authentication failed/);
    expect(lines.join('\n')).not.toContain('wrong-pw');
    expect(upInstances(a.micro, 'bad-service')).toEqual([]);
    await etcdCall(endpoint, '/v3/auth/disable', {}, ((await etcdCall(endpoint, '/v3/auth/authenticate', { name: 'root', password: 'root-pw' })).token as string));
  }, 40_000);

  it('registers and watches over mutual TLS (registry tls), and says once why an instance without a client certificate cannot', async () => {
    if (!hasOpenssl()) throw new Error('openssl is missing: .ci/run installs it');
    const { ca, node, other } = certificates();
    etcd = await EtcdCluster.start(1, { ca, ...node });
    const prefix = `/em-fault-${++count}/`;
    expect(etcd.endpoints[0]).toMatch(/^https:/);
    const a = await start('user-service', { registry: registry(etcd.endpoints, prefix, { tls: { ca, ...other } }) });
    const b = await start('order-service', { registry: registry(etcd.endpoints, prefix, { tls: { ca, ...other } }) });
    await waitFor(() => upInstances(b.micro, 'user-service').length === 1 && upInstances(a.micro, 'order-service').length === 1, 'each sees the other through a TLS etcd', 10_000);
    expect(await b.micro.services.userService.getUser({ id: 3 })).toEqual({ id: '3', name: 'user-service' });
    // Only the CA, no client certificate: etcd refuses the handshake; one line, never registered.
    const { logger, lines } = recordingLogger();
    const anonymous = await start('anonymous-service', { registry: registry(etcd.endpoints, prefix, { tls: { ca } }), logger });
    await waitFor(() => lines.some((line) => line.startsWith('warn') && line.includes('etcd')), 'anonymous-service says etcd cannot be reached', 10_000);
    expect(lines.filter((line) => line.startsWith('warn') && line.includes('etcd'))).toHaveLength(1);
    expect(upInstances(a.micro, 'anonymous-service')).toEqual([]);
    expect(anonymous.micro.peers().filter((peer) => !peer.self)).toEqual([]);
  }, 40_000);
});
