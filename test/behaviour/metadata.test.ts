// Options `metadata` and `zone`: defaults, and how the membership protocol carries them
// (docs/metadata.md). The bad option values are in options.test.ts's table.
import { afterEach, describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/options.ts';
import { discovery, SECRET, startService, stopAll, upInstances, waitFor } from '../helpers.ts';

afterEach(stopAll);

/** Runs `body` with the environment variables set (undefined: unset), then puts them back. */
function withEnv<T>(values: Record<string, string | undefined>, body: () => T): T {
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  const apply = (entries: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(entries)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(values);
  try {
    return body();
  } finally {
    apply(previous);
  }
}

const resolve = (options: Record<string, unknown>) => resolveOptions({ host: '127.0.0.1', secret: SECRET, logger: false, ...options });

describe('metadata and zone', () => {
  it('defaults metadata.version to npm_package_version, which a given version overrides', () => {
    withEnv({ npm_package_version: '1.4.2', EXPRESS_MICRO_ZONE: undefined }, () => {
      expect({ ...resolve({}).metadata }).toEqual({ version: '1.4.2' });
      expect({ ...resolve({ metadata: { track: 'canary' } }).metadata }).toEqual({ track: 'canary', version: '1.4.2' });
      expect({ ...resolve({ metadata: { version: '2' } }).metadata }).toEqual({ version: '2' });
      expect(resolve({}).zone).toBeUndefined();
    });
    withEnv({ npm_package_version: undefined }, () => {
      expect(Object.keys(resolve({}).metadata)).toEqual([]);
    });
  });

  it('keeps labels frozen and without a prototype', () => {
    const { metadata } = resolve({ metadata: { constructor: 'x', toString: 'y' } });
    expect(Object.getPrototypeOf(metadata)).toBeNull();
    expect(Object.isFrozen(metadata)).toBe(true);
    expect(metadata.constructor).toBe('x');
  });

  it('reads the zone from EXPRESS_MICRO_ZONE; the option wins; a bad one names `zone`', () => {
    withEnv({ EXPRESS_MICRO_ZONE: 'eu-west-1a' }, () => {
      expect(resolve({}).zone).toBe('eu-west-1a');
      expect(resolve({ zone: 'eu-west-1b' }).zone).toBe('eu-west-1b');
    });
    withEnv({ EXPRESS_MICRO_ZONE: 'not a zone' }, () => {
      expect(() => resolve({})).toThrow(/option `zone` \(from env EXPRESS_MICRO_ZONE\)/);
    });
  });

  it('carries labels and zone to the other instances, which show them in peers() and /_discovery/services', async () => {
    const a = await startService('user-service', () => {}, { metadata: { version: '2', track: 'canary' }, zone: 'eu-west-1a' });
    const b = await startService('order-service', () => {}, { peers: [a.url] });
    await waitFor(() => upInstances(b.micro, 'user-service').length === 1 && upInstances(a.micro, 'order-service').length === 1, 'each sees the other');
    const seen = b.micro.peers().find((peer) => peer.service === 'user-service');
    expect({ ...seen?.metadata }).toEqual({ version: '2', track: 'canary' });
    expect(seen?.zone).toBe('eu-west-1a');
    expect(Object.getPrototypeOf(seen?.metadata)).toBeNull();
    expect(Object.isFrozen(seen?.metadata)).toBe(true);
    // An instance without labels carries none (no version either: vitest sets no npm_package_version).
    const other = a.micro.peers().find((peer) => peer.service === 'order-service');
    expect(Object.keys(other?.metadata ?? { missing: true }).filter((key) => key !== 'version')).toEqual([]);
    expect(other && 'zone' in other).toBe(false);
    const view = (await (await discovery(b.url, '/services')).json()) as {
      thisService: { metadata: unknown; zone: unknown };
      connectedPeers: Record<string, { instances: { metadata: unknown; zone: unknown }[] }>;
    };
    expect(view.connectedPeers['user-service']?.instances.map(({ metadata, zone }) => ({ metadata, zone }))).toEqual([{ metadata: { version: '2', track: 'canary' }, zone: 'eu-west-1a' }]);
    expect(view.thisService.zone).toBeNull();
    const fromA = (await (await discovery(a.url, '/services')).json()) as typeof view;
    expect(fromA.thisService).toMatchObject({ metadata: { version: '2', track: 'canary' }, zone: 'eu-west-1a' });
    expect(fromA.connectedPeers['order-service']?.instances[0]?.zone).toBeNull();
    const self = a.micro.peers().find((peer) => peer.self);
    expect({ ...self?.metadata }).toEqual({ version: '2', track: 'canary' });
    expect(self?.zone).toBe('eu-west-1a');
  });

  it('refuses a register whose descriptor has malformed or oversized labels or zone, and leaves the table unchanged', async () => {
    const service = await startService('target');
    const before = JSON.stringify(service.micro.peers());
    const self = (extra: Record<string, unknown>) =>
      JSON.stringify({ self: { protocol: 2, name: 'evil', id: 'abcdef0123456789', url: 'http://127.0.0.1:9', routes: [], rev: 'r1', incarnation: 0, ...extra }, members: [] });
    const cases: [string, string][] = [
      ['metadata an array', self({ metadata: ['v2'] })],
      ['metadata a string', self({ metadata: 'v2' })],
      ['metadata null', self({ metadata: null })],
      ['a number value', self({ metadata: { version: 2 } })],
      ['a nested value', self({ metadata: { version: { deep: 'x' } } })],
      ['a __proto__ key', '{"self":{"protocol":2,"name":"evil","id":"abcdef0123456789","url":"http://127.0.0.1:9","routes":[],"rev":"r1","incarnation":0,"metadata":{"__proto__":"x"}},"members":[]}'],
      ['a bad key', self({ metadata: { 'a b': 'x' } })],
      ['a long key', self({ metadata: { ['k'.repeat(64)]: 'x' } })],
      ['a long value', self({ metadata: { note: 'x'.repeat(257) } })],
      ['a control character', self({ metadata: { note: '\u001b[2J' } })],
      ['too many labels', self({ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'x'])) })],
      ['too large in all', self({ metadata: Object.fromEntries(Array.from({ length: 9 }, (_, index) => [`k${index}`, 'x'.repeat(250)])) })],
      ['thousands of labels', self({ metadata: Object.fromEntries(Array.from({ length: 5000 }, (_, index) => [`k${index}`, 'x'])) })],
      ['a zone with a space', self({ zone: 'eu west' })],
      ['an empty zone', self({ zone: '' })],
      ['a long zone', self({ zone: 'z'.repeat(64) })],
      ['a zone of another type', self({ zone: ['eu'] })],
    ];
    for (const [label, body] of cases) {
      const response = await discovery(service.url, '/register', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(response.status, label).toBe(400);
    }
    expect(JSON.stringify(service.micro.peers())).toBe(before);
    // The same descriptor with well-formed labels is taken.
    const good = await discovery(service.url, '/register', { method: 'POST', body: self({ metadata: { version: '3' }, zone: 'z1' }), headers: { 'content-type': 'application/json' } });
    expect(good.status).toBe(200);
    const evil = service.micro.peers().find((peer) => peer.service === 'evil');
    expect({ ...evil?.metadata }).toEqual({ version: '3' });
    expect(evil?.zone).toBe('z1');
  });
});
