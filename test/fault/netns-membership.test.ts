/**
 * Membership on a real network with faults (issue 9): four hosts in network namespaces on one
 * bridge with no uplink (test/support/netns.ts), one service process each, probing every
 * second. Random loss on every host, loss in one direction, a partition (split brain) and its
 * healing, an event loop blocked for 3 s, and seeds given as a DNS name with several addresses
 * (served by a DNS server this test runs on the bridge). Skips with one line where namespaces
 * cannot be made.
 */
import type { ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SECRET, waitFor } from '../helpers.ts';
import { createNetwork, netnsUnavailable, type Network, type NetworkHost } from '../support/netns.ts';

const reason = netnsUnavailable();
if (reason) console.log(`skip: membership fault tests in network namespaces (${reason})`);

const FIXTURE = fileURLToPath(new URL('../fixtures/service.mjs', import.meta.url));
const PORT = 8080;
const INTERVAL = 1000;

interface Member {
  index: number;
  url: string;
  child: ChildProcess;
  lines: string[];
}

let network: Network;
const members: Member[] = [];

function start(host: NetworkHost, index: number, peers: string[]): Promise<Member> {
  const url = `http://${host.address}:${PORT}`;
  const options = { serviceName: `svc-${index}`, host: host.address, peers, secret: SECRET, pingInterval: INTERVAL };
  const child = host.spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, EXPRESS_DISCOVERY_KEY: '', FIXTURE_OPTIONS: JSON.stringify(options), FIXTURE_LISTEN: host.address, FIXTURE_PORT: String(PORT), FIXTURE_LOG: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const member: Member = { index, url, child, lines: [] };
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    member.lines.push(...parts);
  });
  members.push(member);
  return waitFor(() => member.lines.some((line) => line.startsWith('URL ')), `svc-${index} started`, 10_000).then(() => member);
}

async function stopAll(): Promise<void> {
  await Promise.all(
    members.splice(0).map(
      (member) =>
        new Promise<void>((resolve) => {
          if (member.child.exitCode !== null || member.child.signalCode !== null) return resolve();
          member.child.once('exit', () => resolve());
          member.child.kill('SIGCONT');
          member.child.kill('SIGKILL');
        }),
    ),
  );
}

interface View {
  [url: string]: { status: string; suspect: boolean };
}

/** What `member` believes about the others (from its /_discovery/services), or undefined when it does not answer. */
async function viewOf(member: Member): Promise<View | undefined> {
  try {
    const response = await fetch(`${member.url}/_discovery/services`, { headers: { authorization: `Bearer ${SECRET}` }, signal: AbortSignal.timeout(800) });
    const body = (await response.json()) as { connectedPeers: Record<string, { instances: { url: string; status: string; suspect: boolean }[] }> };
    const view: View = {};
    for (const peer of Object.values(body.connectedPeers)) for (const instance of peer.instances) view[instance.url] = { status: instance.status, suspect: instance.suspect };
    return view;
  } catch {
    return undefined;
  }
}

/** True when each of `group` sees every other member of `group` UP and unsuspected. */
async function whole(group: Member[]): Promise<boolean> {
  for (const member of group) {
    const view = await viewOf(member);
    if (!view) return false;
    for (const other of group) if (other !== member && (view[other.url]?.status !== 'UP' || view[other.url]?.suspect)) return false;
  }
  return true;
}

const downLines = (member: Member): string[] => member.lines.filter((line) => line.startsWith('LOG warn') && line.includes(' is DOWN'));
const allDownLines = (): string[] => members.flatMap(downLines);

/** Runs for `ms` of wall time (a bounded observation window, not a wait for a condition). */
function observe(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe.skipIf(reason !== undefined)('membership under network faults', () => {
  beforeAll(async () => {
    network = await createNetwork({ prefix: 'emswim', subnet: '10.231.7', hosts: 5 });
  });
  afterAll(() => network?.destroy());
  afterEach(async () => {
    await stopAll();
    for (let index = 0; index < network.hosts.length; index++) network.clearFaults(index);
  });

  async function fourHosts(): Promise<Member[]> {
    const seed = await start(network.hosts[0] as NetworkHost, 0, []);
    const rest = await Promise.all([1, 2, 3].map((index) => start(network.hosts[index] as NetworkHost, index, [seed.url])));
    const group = [seed, ...rest];
    await waitFor(() => whole(group), 'all four see each other', 15_000);
    return group;
  }

  it('marks no live member DOWN with 10% random loss on every host (10 s)', async () => {
    const group = await fourHosts();
    for (let index = 0; index < 4; index++) network.loss(index, 10);
    await observe(10_000);
    for (let index = 0; index < 4; index++) network.clearFaults(index);
    expect(allDownLines()).toEqual([]);
    await waitFor(() => whole(group), 'whole after the loss', 10_000);
  }, 60_000);

  it('marks no live member DOWN when one host drops everything from another (indirect probes)', async () => {
    const group = await fourHosts();
    network.dropFrom(1, (network.hosts[2] as NetworkHost).address);
    await observe(8_000);
    network.clearFaults(1);
    expect(allDownLines()).toEqual([]);
    await waitFor(() => whole(group), 'whole after the cut', 10_000);
  }, 60_000);

  it('splits in two on a partition, each side marking the other DOWN, and heals by itself', async () => {
    const group = await fourHosts();
    const [a, b, c, d] = group as [Member, Member, Member, Member];
    // {a, b} | {c, d}: c and d drop everything from a and b, and the other way round.
    for (const [index, others] of [[0, [2, 3]], [1, [2, 3]], [2, [0, 1]], [3, [0, 1]]] as const) {
      for (const other of others) network.dropFrom(index, (network.hosts[other] as NetworkHost).address);
    }
    const split = async (): Promise<boolean> => {
      const [va, vc] = await Promise.all([viewOf(a), viewOf(c)]);
      return va?.[c.url]?.status === 'DOWN' && va?.[d.url]?.status === 'DOWN' && vc?.[a.url]?.status === 'DOWN' && vc?.[b.url]?.status === 'DOWN';
    };
    // Detection, then a suspicion no one on this side can refute: at most 6 × 4 intervals.
    await waitFor(split, 'each side sees the other DOWN', 30_000);
    expect(await whole([a, b])).toBe(true);
    expect(await whole([c, d])).toBe(true);
    for (let index = 0; index < 4; index++) network.clearFaults(index);
    const healed = Date.now();
    await waitFor(() => whole(group), 'one cluster again', 15_000);
    console.info(`netns: partition healed, all four whole again after ${Date.now() - healed} ms`);
  }, 90_000);

  it('suspects a member whose event loop is blocked for 3 s, which refutes it: never DOWN, no flapping', async () => {
    const group = await fourHosts();
    const frozen = group[3] as Member;
    frozen.child.kill('SIGSTOP');
    await observe(3_000);
    frozen.child.kill('SIGCONT');
    await waitFor(() => whole(group), 'whole again after the pause', 10_000);
    await observe(3_000);
    expect(allDownLines()).toEqual([]);
    // It was suspected by someone (the probes noticed), and its own log says it refuted.
    const suspected = group.some((member) => member.lines.some((line) => line.includes(`${frozen.url} is suspected`)));
    expect(suspected).toBe(true);
    expect(await whole(group)).toBe(true);
  }, 60_000);

  it('joins through every address a seed name resolves to', async () => {
    // Two members that do not know each other, both at the name seeds.test.
    const [one, two] = await Promise.all([start(network.hosts[0] as NetworkHost, 0, []), start(network.hosts[1] as NetworkHost, 1, [])]);
    const dns = await serveDns(network.gateway, { 'seeds.test': [(network.hosts[0] as NetworkHost).address, (network.hosts[1] as NetworkHost).address] });
    try {
      network.writeEtc(4, 'resolv.conf', `nameserver ${network.gateway}\noptions timeout:1 attempts:2\n`);
      const joiner = await start(network.hosts[4] as NetworkHost, 4, [`http://seeds.test:${PORT}`]);
      // The joiner registered with both addresses; the two learn of each other through it.
      await waitFor(() => whole([one, two, joiner]), 'all three see each other', 15_000);
      const [first, second] = [(network.hosts[0] as NetworkHost).address, (network.hosts[1] as NetworkHost).address];
      expect(joiner.lines).toContain(`LOG info express-micro: seed http://seeds.test:${PORT} resolves to ${first}, ${second}; joining through each`);
      expect(dns.queries).toContain('seeds.test');
    } finally {
      dns.socket.close();
    }
  }, 60_000);
});

/** A DNS server (UDP, A records only) on `address`:53 that answers the given names. */
async function serveDns(address: string, names: Record<string, string[]>): Promise<{ socket: Socket; queries: string[] }> {
  const socket = createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (query, from) => {
    if (query.length < 17) return;
    const labels: string[] = [];
    let offset = 12;
    while (offset < query.length && query[offset] !== 0) {
      const length = query[offset] as number;
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
      offset += length + 1;
    }
    const questionEnd = offset + 5;
    const name = labels.join('.').toLowerCase();
    const type = query.readUInt16BE(offset + 1);
    queries.push(name);
    const addresses = names[name];
    const answers = type === 1 && addresses ? addresses : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8180 | (addresses ? 0 : 3), 2); // a response; NXDOMAIN for names it does not serve
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const records = answers.map((ip) => {
      const record = Buffer.alloc(16);
      record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      record.writeUInt16BE(1, 2); // A
      record.writeUInt16BE(1, 4); // IN
      record.writeUInt32BE(5, 6); // TTL 5 s
      record.writeUInt16BE(4, 10);
      ip.split('.').forEach((part, index) => record.writeUInt8(Number(part), 12 + index));
      return record;
    });
    socket.send(Buffer.concat([header, query.subarray(12, questionEnd), ...records]), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(53, address, resolve));
  return { socket, queries };
}
