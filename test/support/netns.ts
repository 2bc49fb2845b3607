/**
 * Test hosts in Linux network namespaces, for fault tests that need real separate addresses:
 * partitions, packet loss, one-way cuts, several interfaces.
 *
 * A network is one bridge with NO uplink (no default route, no NAT: nothing in it can reach
 * anything outside), a private subnet only that test uses, and one namespace per host with a
 * veth pair on the bridge. The bridge itself gets `<subnet>.254` so the test process can reach
 * the hosts. Everything is removed by `destroy()`, at process exit, and before a network with the
 * same prefix is made again (a crashed run leaves nothing behind for long).
 *
 * Needs root, `ip` (iproute2) and `nft` (nftables); `netnsUnavailable()` says why not, so that a
 * suite can print one skip line on a laptop.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((path) => existsSync(path)) ?? 'ip';
const NFT = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((path) => existsSync(path)) ?? 'nft';

/** Runs `ip` with `args` and returns its output; throws with stderr on failure. */
export function ip(...args: string[]): string {
  return execFileSync(IP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function quietly(run: () => unknown): void {
  try {
    run();
  } catch {
    // Cleanup of something that may not exist.
  }
}

let unavailable: string | undefined | null = null;

/**
 * Why namespaces cannot be used here (not root, no `ip`/`nft`, no permission), or undefined.
 * Under CI (`CI=true`, where .ci/run installs what they need) it throws instead, so that a broken
 * set-up fails loudly rather than skipping the fault suites.
 */
export function netnsUnavailable(): string | undefined {
  if (unavailable === null) unavailable = probe();
  if (unavailable !== undefined && process.env.CI === 'true') throw new Error(`CI must run the network-namespace tests, but ${unavailable}`);
  return unavailable;
}

function probe(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'network namespaces need root';
  try {
    ip('-V');
  } catch {
    return '`ip` (iproute2) is not installed';
  }
  try {
    execFileSync(NFT, ['--version'], { stdio: 'ignore' });
  } catch {
    return '`nft` (nftables) is not installed';
  }
  const name = `emprobe${process.pid}`;
  try {
    ip('netns', 'add', name);
    return undefined;
  } catch (error) {
    return `cannot create a network namespace: ${String((error as { stderr?: string }).stderr ?? error).trim()}`;
  } finally {
    quietly(() => ip('netns', 'del', name));
  }
}

/** One test host: a namespace with an address on the network's bridge. */
export interface NetworkHost {
  /** The namespace's name (`<prefix>-h<n>`). */
  readonly name: string;
  /** Its address on the bridge (`<subnet>.<n>`). */
  readonly address: string;
  /**
   * Starts `command` inside the namespace (`ip netns exec`, which becomes the command, so the
   * child's pid is the command's own). `destroy()` kills it if it is still running.
   */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Runs `command` inside the namespace to completion and returns its stdout. */
  exec(command: string, args: string[]): string;
}

/** Where packets are dropped: arriving at the host, leaving it, or both. */
export type Direction = 'in' | 'out' | 'both';

/** A bridge with hosts on it and the faults a test can inject. */
export interface Network {
  readonly hosts: readonly NetworkHost[];
  /** The bridge's address, which the test process uses to reach the hosts. */
  readonly gateway: string;
  /** Takes host `index` off the network (its link goes down): a partition. */
  partition(index: number): void;
  /** Brings host `index` back. */
  heal(index: number): void;
  /** Drops `percent`% of host `index`'s packets at random (nftables `numgen random`). */
  loss(index: number, percent: number, direction?: Direction): void;
  /** Drops every packet host `index` receives from `address` (a one-way cut). */
  dropFrom(index: number, address: string): void;
  /** Removes every loss and drop rule from host `index`. */
  clearFaults(index: number): void;
  /** Writes `/etc/netns/<ns>/<file>`, which `ip netns exec` mounts over `/etc/<file>` (hosts, resolv.conf). */
  writeEtc(index: number, file: string, content: string): void;
  /**
   * Adds a second bridge (`<prefix>-<suffix>`, address `<subnet>.254`) and plugs host `index` into
   * it as interface `device` with `<subnet>.<index + 1>`; returns that address.
   */
  attach(index: number, options: { suffix: string; subnet: string; device: string }): string;
  /** Removes every namespace, link, bridge and /etc/netns folder this network made. */
  destroy(): void;
}

/** What `createNetwork` builds. */
export interface NetworkOptions {
  /** Short, unique per test suite (≤ 6 characters): names are `<prefix>-br0`, `<prefix>-h1`… */
  prefix: string;
  /** The first three octets of a /24 only this suite uses, such as `'10.231.1'`. */
  subnet: string;
  /** How many hosts (1–200). */
  hosts: number;
}

function chaosRules(percent: number | undefined, direction: Direction, dropFrom: readonly string[]): string {
  const input: string[] = [];
  const output: string[] = [];
  if (percent !== undefined && percent > 0) {
    const rule = percent >= 100 ? 'drop' : `numgen random mod 1000 < ${Math.round(percent * 10)} drop`;
    if (direction !== 'out') input.push(rule);
    if (direction !== 'in') output.push(rule);
  }
  for (const address of dropFrom) input.push(`ip saddr ${address} drop`);
  return [
    'table inet chaos {',
    '  chain in { type filter hook input priority 0; policy accept;',
    ...input.map((rule) => `    ${rule}`),
    '  }',
    '  chain out { type filter hook output priority 0; policy accept;',
    ...output.map((rule) => `    ${rule}`),
    '  }',
    '}',
  ].join('\n');
}

const live = new Set<() => void>();
let exitHook = false;

/**
 * Builds the network: removes leftovers of an earlier run with the same prefix, then makes the
 * bridge and `hosts` namespaces. Throws (after cleaning up) when a step fails.
 */
export async function createNetwork(options: NetworkOptions): Promise<Network> {
  const { prefix, subnet, hosts: count } = options;
  if (!/^[a-z][a-z0-9]{0,5}$/.test(prefix)) throw new Error(`netns prefix must be 1–6 lower-case letters/digits, got '${prefix}'`);
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(subnet)) throw new Error(`netns subnet must be three octets, got '${subnet}'`);
  if (!Number.isInteger(count) || count < 1 || count > 200) throw new Error(`netns hosts must be 1–200, got ${count}`);

  const bridges = [`${prefix}-br0`];
  const namespaces: string[] = [];
  const faults = new Map<number, { percent?: number; direction: Direction; dropFrom: string[] }>();

  const children = new Set<ChildProcess>();
  const destroy = (): void => {
    // A namespace lives on while a process is in it: stop them first.
    for (const child of children) quietly(() => child.kill('SIGKILL'));
    children.clear();
    for (let index = 1; index <= count; index++) quietly(() => ip('link', 'del', `${prefix}v${index}o`));
    for (const namespace of namespaces) {
      quietly(() => ip('netns', 'del', namespace));
      quietly(() => rmSync(join('/etc/netns', namespace), { recursive: true, force: true }));
    }
    for (const bridge of bridges) quietly(() => ip('link', 'del', bridge));
    live.delete(destroy);
  };
  // Leftovers from a run that was killed before it could clean up.
  for (const existing of ip('netns', 'list').split('\n')) {
    const name = existing.split(' ')[0] ?? '';
    if (name.startsWith(`${prefix}-h`)) namespaces.push(name);
  }
  destroy();
  namespaces.length = 0;

  live.add(destroy);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const cleanup of [...live]) cleanup();
    });
  }

  const gateway = `${subnet}.254`;
  try {
    ip('link', 'add', 'name', bridges[0] as string, 'type', 'bridge');
    ip('addr', 'add', `${gateway}/24`, 'dev', bridges[0] as string);
    ip('link', 'set', bridges[0] as string, 'up');
  } catch (error) {
    destroy();
    throw error;
  }

  const hosts: NetworkHost[] = [];
  const plug = (namespace: string, bridge: string, device: string, address: string, hostSide: string): void => {
    const outside = `${hostSide}o`;
    ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', hostSide, 'netns', namespace);
    ip('link', 'set', outside, 'master', bridge, 'up');
    ip('-n', namespace, 'link', 'set', hostSide, 'name', device);
    ip('-n', namespace, 'addr', 'add', `${address}/24`, 'dev', device);
    ip('-n', namespace, 'link', 'set', device, 'up');
  };
  try {
    for (let index = 0; index < count; index++) {
      const name = `${prefix}-h${index + 1}`;
      const address = `${subnet}.${index + 1}`;
      ip('netns', 'add', name);
      namespaces.push(name);
      ip('-n', name, 'link', 'set', 'lo', 'up');
      plug(name, bridges[0] as string, 'eth0', address, `${prefix}v${index + 1}`);
      hosts.push({
        name,
        address,
        spawn: (command, args, spawnOptions = {}) => {
          const child = spawn(IP, ['netns', 'exec', name, command, ...args], spawnOptions);
          children.add(child);
          child.once('exit', () => children.delete(child));
          return child;
        },
        exec: (command, args) => execFileSync(IP, ['netns', 'exec', name, command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
      });
    }
  } catch (error) {
    destroy();
    throw error;
  }

  const host = (index: number): NetworkHost => {
    const found = hosts[index];
    if (!found) throw new Error(`no host ${index} (the network has ${hosts.length})`);
    return found;
  };
  const applyFaults = (index: number): void => {
    const { name } = host(index);
    const state = faults.get(index);
    quietly(() => execFileSync(IP, ['netns', 'exec', name, NFT, 'delete', 'table', 'inet', 'chaos'], { stdio: 'ignore' }));
    if (!state) return;
    execFileSync(IP, ['netns', 'exec', name, NFT, '-f', '-'], { input: chaosRules(state.percent, state.direction, state.dropFrom), stdio: ['pipe', 'ignore', 'pipe'] });
  };
  const faultState = (index: number): { percent?: number; direction: Direction; dropFrom: string[] } => {
    let state = faults.get(index);
    if (!state) faults.set(index, (state = { direction: 'both', dropFrom: [] }));
    return state;
  };

  return {
    hosts,
    gateway,
    partition: (index) => void ip('link', 'set', `${prefix}v${index + 1}o`, 'down'),
    heal: (index) => void ip('link', 'set', `${prefix}v${index + 1}o`, 'up'),
    loss(index, percent, direction = 'both') {
      if (!(percent >= 0 && percent <= 100)) throw new Error(`loss must be 0–100%, got ${percent}`);
      const state = faultState(index);
      state.percent = percent;
      state.direction = direction;
      applyFaults(index);
    },
    dropFrom(index, address) {
      if (!/^[0-9.]+$/.test(address)) throw new Error(`dropFrom takes an IPv4 address, got '${address}'`);
      faultState(index).dropFrom.push(address);
      applyFaults(index);
    },
    clearFaults(index) {
      faults.delete(index);
      applyFaults(index);
    },
    writeEtc(index, file, content) {
      if (!/^[a-z.]+$/.test(file)) throw new Error(`writeEtc takes a plain file name, got '${file}'`);
      const folder = join('/etc/netns', host(index).name);
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, file), content);
    },
    attach(index, { suffix, subnet: other, device }) {
      const bridge = `${prefix}-${suffix}`;
      if (!bridges.includes(bridge)) {
        quietly(() => ip('link', 'del', bridge));
        ip('link', 'add', 'name', bridge, 'type', 'bridge');
        bridges.push(bridge);
        ip('addr', 'add', `${other}.254/24`, 'dev', bridge);
        ip('link', 'set', bridge, 'up');
      }
      const address = `${other}.${index + 1}`;
      plug(host(index).name, bridge, device, address, `${prefix}${suffix.slice(0, 3)}${index + 1}`);
      return address;
    },
    destroy,
  };
}
