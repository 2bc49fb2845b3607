/**
 * The cluster view's merge and diff rules (src/cli/cluster-view.ts), on answers shaped as
 * `/_discovery/services` gives them, before and after peers publish `id`, `roundTripMs` and
 * `ejected`. The same code reads real clusters in status.test.ts and watch.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { clusterViewOf, diffViews, type ClusterView } from '../../src/cli/cluster-view.ts';
import { CliError } from '../../src/cli/errors.ts';

const AT = 1_700_000_000_000;
const ROUTES = [{ method: 'GET', path: '/users/:id', names: ['getUser'] }];

function instance(id: string, url: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, url, status: 'UP', suspect: false, incarnation: 0, lastSeen: AT - 1000, ...fields };
}

function answer(self: { name: string; url: string; id?: string }, peers: Record<string, Record<string, unknown>[]>): unknown {
  const connectedPeers: Record<string, unknown> = {};
  for (const [name, instances] of Object.entries(peers)) connectedPeers[name] = { url: instances[0]?.url, routes: ROUTES, status: 'UP', instances };
  return { thisService: { ...self, routes: ROUTES }, connectedPeers };
}

describe('clusterViewOf', () => {
  it('lists the peer itself UP and seen now, and the others as it sees them; missing fields are null or false', () => {
    const view = clusterViewOf([{ origin: 'http://a', body: answer({ name: 'a', url: 'http://a' }, { b: [instance('b1', 'http://b', { suspect: true, roundTripMs: 1.5, ejected: true }), instance('b2', 'http://b2', { status: 'DOWN', lastSeen: 'nonsense' })] }) }], [], AT);
    expect(view.rows).toEqual([
      { service: 'a', id: 'http://a', url: 'http://a', status: 'UP', ejected: false, lastSeen: AT, roundTripMs: null, routes: 1, zone: null, metadata: {}, events: [] },
      { service: 'b', id: 'b1', url: 'http://b', status: 'SUSPECT', ejected: true, lastSeen: AT - 1000, roundTripMs: 1.5, routes: 1, zone: null, metadata: {}, events: [] },
      { service: 'b', id: 'b2', url: 'http://b2', status: 'DOWN', ejected: false, lastSeen: null, roundTripMs: null, routes: 1, zone: null, metadata: {}, events: [] },
    ]);
    expect(view.reached).toEqual(['http://a']);
  });

  it('merges peers: a peer about itself wins, then the higher incarnation, the later lastSeen, the worse state', () => {
    const fromA = answer({ name: 'a', url: 'http://a' }, { b: [instance('b1', 'http://b', { status: 'DOWN', lastSeen: AT - 500 })], c: [instance('c1', 'http://c', { incarnation: 2 })], d: [instance('d1', 'http://d', { lastSeen: AT - 100 })] });
    const fromB = answer({ name: 'b', url: 'http://b', id: 'b1' }, { a: [instance('a1', 'http://a')], c: [instance('c1', 'http://c', { incarnation: 1, status: 'DOWN', lastSeen: AT })], d: [instance('d1', 'http://d', { status: 'DOWN', lastSeen: AT - 100, roundTripMs: 3 })] });
    const view = clusterViewOf([{ origin: 'http://a', body: fromA }, { origin: 'http://b', body: fromB }], [{ origin: 'http://x', reason: 'cannot reach http://x' }], AT);
    expect(view.rows.map((row) => [row.service, row.id, row.status, row.lastSeen, row.roundTripMs])).toEqual([
      // a publishes no id: b's name for it (a1) is used, and a's own word wins.
      ['a', 'a1', 'UP', AT, null],
      ['b', 'b1', 'UP', AT, null], // b answered itself, whatever a thinks
      ['c', 'c1', 'UP', AT - 1000, null], // incarnation 2 beats 1, though b heard later
      ['d', 'd1', 'DOWN', AT - 100, 3], // a tie on everything else: the worse state
    ]);
    expect(view.unreachable).toEqual([{ origin: 'http://x', reason: 'cannot reach http://x' }]);
  });

  it('skips rows it cannot trust: bad service names, URLs that are not http(s) or carry control characters', () => {
    const hostile = answer({ name: 'a\x1b[2J', url: 'http://a' }, {
      'b\x1b]0;pwned\x07': [instance('b1', 'http://b')],
      c: [instance('c1', 'javascript:alert(1)'), instance('c2', 'http://c2\x1b[31m'), instance('c3\n', 'http://c3'), 'nonsense' as unknown as Record<string, unknown>],
    });
    const view = clusterViewOf([{ origin: 'http://a', body: hostile }], [], AT);
    expect(view.rows.map((row) => [row.service, row.id, row.url])).toEqual([['c', 'http://c3', 'http://c3']]);
  });

  it('reads zone and labels, and drops malformed ones (shown as none) without dropping the row', () => {
    const body = answer({ name: 'a', url: 'http://a', zone: 'eu-1', metadata: { version: '2' } } as never, {
      b: [
        instance('b1', 'http://b1', { zone: 'eu-2', metadata: { version: '1', track: 'canary' } }),
        instance('b2', 'http://b2', { zone: 'eu 2\x1b[31m', metadata: { version: '1\x1b[2J' } }),
        instance('b3', 'http://b3', { zone: 42, metadata: { '__proto__': 'x', constructor: { deep: 1 } } }),
        instance('b4', 'http://b4', { metadata: { note: 'abc\u202edef' } }),
      ],
    });
    const rows = clusterViewOf([{ origin: 'http://a', body }], [], AT).rows;
    expect(rows.map((row) => [row.id, row.zone, { ...row.metadata }])).toEqual([
      ['http://a', 'eu-1', { version: '2' }],
      ['b1', 'eu-2', { version: '1', track: 'canary' }],
      ['b2', null, {}],
      ['b3', null, {}],
      ['b4', null, {}],
    ]);
  });

  it('reads each instance\'s subscriptions, sorted and once each; an older peer\'s (no field) and malformed ones are none', () => {
    const body = answer({ name: 'a', url: 'http://a', events: [{ event: 'order.created', group: 'a' }, { event: 'cache.flush', group: 'caches' }, { event: 'order.created', group: 'a' }] } as never, {
      b: [
        instance('b1', 'http://b1', { events: [{ event: 'order.created', group: 'audit' }, { event: 'order.created', group: 'b' }] }),
        instance('b2', 'http://b2'), // an older peer: no events field
        instance('b3', 'http://b3', { events: [{ event: 'bad name\x1b[2J', group: 'b' }, { event: 'ok', group: 'bad group' }, 'nonsense', { event: 'fine', group: 'b' }] }),
        instance('b4', 'http://b4', { events: 'not a list' }),
      ],
    });
    const rows = clusterViewOf([{ origin: 'http://a', body }], [], AT).rows;
    expect(rows.map((row) => [row.id, row.events])).toEqual([
      ['http://a', [{ event: 'cache.flush', group: 'caches' }, { event: 'order.created', group: 'a' }]],
      ['b1', [{ event: 'order.created', group: 'audit' }, { event: 'order.created', group: 'b' }]],
      ['b2', []],
      ['b3', [{ event: 'fine', group: 'b' }]],
      ['b4', []],
    ]);
  });

  it('refuses an answer that is not a services list', () => {
    expect(() => clusterViewOf([{ origin: 'http://a', body: { hello: 1 } }], [], AT)).toThrow(CliError);
    expect(() => clusterViewOf([{ origin: 'http://a', body: { hello: 1 } }], [], AT)).toThrow('http://a/_discovery/services did not answer with an express-micro services list');
  });
});

describe('diffViews', () => {
  const view = (rows: Partial<ClusterView['rows'][number]>[], at: number, reached = ['http://a']): ClusterView => ({
    rows: rows.map((row) => ({ service: 's', id: 'x', url: 'http://x', status: 'UP', ejected: false, lastSeen: at, roundTripMs: null, routes: 1, zone: null, metadata: {}, events: [], ...row })),
    reached,
    unreachable: [],
    at,
  });

  it('names each change once: joined, left, up, down, suspect, ejected, restored', () => {
    const before = view([{ id: '1' }, { id: '2', status: 'SUSPECT' }, { id: '3', status: 'DOWN' }, { id: '4' }, { id: '5', ejected: true }, { id: '6' }], 1);
    const after = view([{ id: '1' }, { id: '2', status: 'DOWN' }, { id: '3' }, { id: '4', status: 'SUSPECT', ejected: true }, { id: '5' }, { id: '7' }], 2);
    expect(diffViews(before, after).map((change) => [change.kind, change.row.id, change.at])).toEqual([
      ['down', '2', 2],
      ['up', '3', 2],
      ['suspect', '4', 2],
      ['ejected', '4', 2],
      ['restored', '5', 2],
      ['joined', '7', 2],
      ['left', '6', 2],
    ]);
  });

  it('names a change of an instance\'s subscriptions once: added, removed, or a group changed', () => {
    const created = { event: 'order.created', group: 's' };
    const before = view([{ id: '1', events: [created] }, { id: '2' }, { id: '3', events: [created] }, { id: '4', events: [created] }], 1);
    const after = view([{ id: '1', events: [created] }, { id: '2', events: [created] }, { id: '3' }, { id: '4', events: [{ event: 'order.created', group: 'audit' }] }], 2);
    expect(diffViews(before, after).map((change) => [change.kind, change.row.id])).toEqual([
      ['events', '2'],
      ['events', '3'],
      ['events', '4'],
    ]);
  });

  it('says nothing when the later view reached no peer (no news is not everyone leaving)', () => {
    expect(diffViews(view([{ id: '1' }], 1), view([], 2, []))).toEqual([]);
  });
});
