/**
 * A first deploy on a host with two interfaces, only one of which reaches the seed: the service
 * must advertise the address its peers can reach (the one routed towards the seed), say that it
 * had several to choose from, and stay UP at the seed. Real hosts in network namespaces
 * (test/support/netns.ts); skips with one line where they cannot be made.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET, waitFor } from '../helpers.ts';
import { createNetwork, netnsUnavailable, type Network, type NetworkHost } from '../support/netns.ts';

const reason = netnsUnavailable();
if (reason) console.log(`skip: multi-interface host tests (${reason})`);

const FIXTURE = fileURLToPath(new URL('../fixtures/service.mjs', import.meta.url));

interface Running {
  child: ChildProcess;
  lines: string[];
  port: number;
}

async function run(host: NetworkHost, options: Record<string, unknown>): Promise<Running> {
  const child = host.spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, EXPRESS_DISCOVERY_KEY: '', FIXTURE_OPTIONS: JSON.stringify({ secret: SECRET, pingInterval: 200, ...options }), FIXTURE_LISTEN: '0.0.0.0', FIXTURE_LOG: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
  });
  await waitFor(() => lines.some((line) => line.startsWith('URL ')), `${String(options.serviceName)} started in ${host.name}`, 10_000);
  const ready = lines.find((line) => line.startsWith('READY ')) as string;
  return { child, lines, port: Number(ready.split(' ')[1]) };
}

describe.skipIf(reason !== undefined)('a host with two interfaces', () => {
  let network: Network;
  beforeAll(async () => {
    // h1 and h2 share subnet A; both also sit on subnet B, and the seed (h2) is cut off from A,
    // so h1's first address (A, on eth0) is one the seed cannot reach.
    network = await createNetwork({ prefix: 'emhost', subnet: '10.231.3', hosts: 2 });
    network.attach(0, { suffix: 'b', subnet: '10.231.4', device: 'eth1' });
    network.attach(1, { suffix: 'b', subnet: '10.231.4', device: 'eth1' });
    network.hosts[1]!.exec('ip', ['link', 'set', 'eth0', 'down']);
  });
  afterAll(() => network?.destroy());

  it('advertises the address that reaches the seed, says it had a choice, and stays UP there', async () => {
    const seed = await run(network.hosts[1]!, { serviceName: 'seed-service', host: '10.231.4.2' });
    const seedUrl = `http://10.231.4.2:${seed.port}`;
    const service = await run(network.hosts[0]!, { serviceName: 'multi-service', peers: [seedUrl] });

    expect(service.lines).toContain(`URL http://10.231.4.1:${service.port}`);
    const warning = service.lines.find((line) => line.startsWith('LOG warn express-micro: this machine has several addresses'));
    expect(warning).toBe(
      `LOG warn express-micro: this machine has several addresses (10.231.3.1, 10.231.4.1); multi-service advertises 10.231.4.1, the one that reaches the seed ${seedUrl}. Set the \`host\` option to choose.`,
    );
    expect(service.lines).toContain(`LOG info express-micro: multi-service is reachable at http://10.231.4.1:${service.port} (what peers are told)`);

    // The seed sees it UP at that address and never marked it DOWN.
    const status = async (): Promise<string | undefined> => {
      const answer = await fetch(`${seedUrl}/_discovery/services`, { headers: { authorization: `Bearer ${SECRET}` }, signal: AbortSignal.timeout(2000) });
      const view = (await answer.json()) as { connectedPeers: Record<string, { status: string; url: string }> };
      const peer = view.connectedPeers['multi-service'];
      return peer && `${peer.status} ${peer.url}`;
    };
    await waitFor(async () => (await status()) === `UP http://10.231.4.1:${service.port}`, 'multi-service UP at the seed', 10_000);
    expect(seed.lines).toContain(`LOG info express-micro: multi-service at http://10.231.4.1:${service.port} is UP`);
    expect(seed.lines.filter((line) => line.includes('multi-service') && line.includes('is DOWN'))).toEqual([]);
  }, 30_000);
});
