/**
 * The ZONE and LABELS columns of `status`/`watch` and the change lines of `watch`
 * (src/cli/cluster-table.ts), on views built by hand. The real cluster runs are in status.test.ts
 * and watch.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { eventsCell, labelsCell, renderChange, renderTable } from '../../src/cli/cluster-table.ts';
import type { ClusterView, InstanceRow } from '../../src/cli/cluster-view.ts';

const AT = 1_700_000_000_000;

function row(url: string, fields: Partial<InstanceRow> = {}): InstanceRow {
  return { service: 'user-service', id: `${url.slice(-4)}aaaaaaaaaaaa`, url, status: 'UP', ejected: false, lastSeen: AT, roundTripMs: null, routes: 3, zone: null, metadata: {}, events: [], ...fields };
}

describe('cluster table: zone and labels', () => {
  it('shows the zone and the labels as one compact cell, version first, `-` when none', () => {
    const view: ClusterView = {
      rows: [
        row('http://127.0.0.1:4001', { zone: 'eu-west-1a', metadata: { track: 'canary', version: '2' } }),
        row('http://127.0.0.1:4002'),
      ],
      reached: ['http://127.0.0.1:4001'],
      unreachable: [],
      at: AT,
    };
    const lines = renderTable(view).split('\n');
    // No instance subscribes to an event: no EVENTS column, the table as before.
    expect(lines[0]).toMatch(/^SERVICE +INSTANCE +ID +STATUS +LAST SEEN +ROUND TRIP +ROUTES +ZONE +LABELS$/);
    expect(lines[1]).toMatch(/ +3 {2}eu-west-1a {2}version=2,track=canary$/);
    expect(lines[2]).toMatch(/ +3 {2}- {11}-$/);
    // Columns line up: the LABELS column starts at the same offset on every line.
    expect(lines[1]?.indexOf('version=')).toBe(lines[0]?.indexOf('LABELS'));
    expect(lines.every((line) => line === line.trimEnd())).toBe(true);
  });

  it('cuts a long labels cell so the table stays narrow', () => {
    const cell = labelsCell({ version: '1.2.3', note: 'x'.repeat(200) });
    expect(cell).toHaveLength(40);
    expect(cell.startsWith('version=1.2.3,note=xxx')).toBe(true);
    expect(cell.endsWith('…')).toBe(true);
    expect(labelsCell({})).toBe('-');
  });

  it('names the zone and labels on a change line, and leaves them out when there are none', () => {
    const labelled = renderChange({ kind: 'down', row: row('http://127.0.0.1:4001', { id: 'abcdef0123456789', zone: 'eu-1', metadata: { version: '2' } }), at: AT });
    expect(labelled).toBe('2023-11-14T22:13:20.000Z  DOWN            user-service http://127.0.0.1:4001 (id abcdef0123456789, zone eu-1, version=2)');
    const plain = renderChange({ kind: 'left', row: row('http://127.0.0.1:4002', { id: 'abcdef0123456780' }), at: AT });
    expect(plain.endsWith('(id abcdef0123456780)')).toBe(true);
  });
});

describe('cluster table: events', () => {
  const created = { event: 'order.created', group: 'user-service' };

  it('shows each instance\'s subscriptions by name after ROUTES, once per name, `-` for none (an older peer too), when any instance has one', () => {
    const view: ClusterView = {
      rows: [
        row('http://127.0.0.1:4001', { events: [{ event: 'cache.flush', group: 'caches' }, created, { ...created, group: 'audit' }], zone: 'eu-1' }),
        row('http://127.0.0.1:4002'),
      ],
      reached: ['http://127.0.0.1:4001'],
      unreachable: [],
      at: AT,
    };
    const lines = renderTable(view).split('\n');
    expect(lines[0]).toMatch(/ROUTES {2}EVENTS {21}ZONE {2}LABELS$/);
    expect(lines[1]).toMatch(/ +3 {2}cache\.flush,order\.created {2}eu-1 {2}-$/);
    expect(lines[2]).toMatch(/ +3 {2}- {26}- {5}-$/);
    expect(lines[1]?.indexOf('cache.flush')).toBe(lines[0]?.indexOf('EVENTS'));
  });

  it('keeps a long list compact: the names that fit and how many more', () => {
    const many = ['a.one', 'b.two', 'c.three', 'd.four', 'e.five', 'f.six', 'g.seven', 'h.eight'].map((event) => ({ event, group: 'g' }));
    const cell = eventsCell(many);
    expect(cell).toBe('a.one,b.two,c.three,d.four,+4 more');
    expect(cell.length).toBeLessThanOrEqual(40);
    expect(eventsCell([{ event: 'x'.repeat(100), group: 'g' }])).toBe(`${'x'.repeat(39)}…`);
    expect(eventsCell([{ event: 'x'.repeat(100), group: 'g' }, { event: 'y', group: 'g' }])).toBe(`${'x'.repeat(31)}…,+1 more`);
    expect(eventsCell([])).toBe('-');
  });

  it('names the events on a change line, and says when an instance\'s subscriptions changed', () => {
    const joined = renderChange({ kind: 'joined', row: row('http://127.0.0.1:4001', { id: 'abcdef0123456789', events: [created] }), at: AT });
    expect(joined).toBe('2023-11-14T22:13:20.000Z  joined (UP)     user-service http://127.0.0.1:4001 (id abcdef0123456789, events order.created)');
    const changed = renderChange({ kind: 'events', row: row('http://127.0.0.1:4001', { id: 'abcdef0123456789' }), at: AT });
    expect(changed).toBe('2023-11-14T22:13:20.000Z  subscriptions   user-service http://127.0.0.1:4001 (id abcdef0123456789, events -)');
  });
});
