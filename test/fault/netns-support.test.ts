/**
 * The network-namespace test support itself (test/support/netns.ts): hosts reach each other
 * over the bridge, nothing routes anywhere else, and each fault does what it says. Skips with one
 * line where namespaces cannot be made (not root, no ip/nft).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetwork, netnsUnavailable, type Network } from '../support/netns.ts';

const reason = netnsUnavailable();
if (reason) console.log(`skip: network-namespace tests (${reason})`);

// A one-line HTTP server and client, run inside the namespaces with this same Node.
const SERVER = `require('node:http').createServer((q, s) => s.end('pong')).listen(8080, process.argv[1], () => console.log('READY'))`;
const CLIENT = `fetch('http://' + process.argv[1] + ':8080/', { signal: AbortSignal.timeout(Number(process.argv[2])) }).then(r => r.text()).then(t => console.log(t), e => console.log('FAIL ' + (e.cause?.code ?? e.name))).finally(() => process.exit(0))`;

describe.skipIf(reason !== undefined)('test/support/netns.ts', () => {
  let network: Network;
  beforeAll(async () => {
    network = await createNetwork({ prefix: 'emsup', subnet: '10.231.9', hosts: 2 });
    const server = network.hosts[0]!.spawn(process.execPath, ['-e', SERVER, network.hosts[0]!.address], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('READY') && resolve());
      server.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
  });
  afterAll(() => network?.destroy());

  const get = (timeout = 2000): string => network.hosts[1]!.exec(process.execPath, ['-e', CLIENT, network.hosts[0]!.address, String(timeout)]).trim();

  it('hosts reach each other, and no host has a route off the bridge', () => {
    expect(get()).toBe('pong');
    for (const host of network.hosts) expect(host.exec('ip', ['route', 'show', 'default']).trim()).toBe('');
  });

  it('partition cuts a host off and heal brings it back', () => {
    network.partition(0);
    expect(get(500)).toMatch(/^FAIL/);
    network.heal(0);
    expect(get()).toBe('pong');
  });

  it('dropFrom cuts one direction, and clearFaults removes it', () => {
    network.dropFrom(0, network.hosts[1]!.address);
    expect(get(500)).toMatch(/^FAIL/);
    network.clearFaults(0);
    expect(get()).toBe('pong');
  });

  it('100% loss drops everything; 0% loss drops nothing', () => {
    network.loss(0, 100, 'in');
    expect(get(500)).toMatch(/^FAIL/);
    network.loss(0, 0);
    expect(get()).toBe('pong');
  });

  it('writeEtc gives the namespace its own /etc/hosts', () => {
    network.writeEtc(1, 'hosts', `${network.hosts[0]!.address} seed.test\n`);
    expect(network.hosts[1]!.exec('getent', ['hosts', 'seed.test']).trim()).toMatch(/^10\.231\.9\.1\s+seed\.test/);
  });
});
