/**
 * The `EventRegistry` of `express-micro types` (src/cli/commands/types/render.ts, model.ts) on
 * models built by hand: names from every source united, sorted, checked against the event-name
 * rule; a payload only when the subscribers' source agrees on one. Real clusters and sources are
 * in peer.test.ts, source.test.ts and compile.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ServiceSet } from '../../src/cli/commands/types/model.ts';
import { parseServicesView } from '../../src/cli/commands/types/peers.ts';
import { renderDeclarations } from '../../src/cli/commands/types/render.ts';

const render = (set: ServiceSet): string => renderDeclarations(set.list(), { module: 'express-micro' }, set.events()).text;

describe('EventRegistry', () => {
  it('is left out when nothing subscribes, so a file from a cluster without events is as before', () => {
    const set = new ServiceSet();
    set.merge({ name: 'user-service', routes: [] });
    const rendered = renderDeclarations(set.list(), { module: 'express-micro' }, set.events());
    expect(rendered.text).not.toContain('EventRegistry');
    expect(rendered.events).toBe(0);
  });

  it('unites names from every source, sorted; a payload when the typed subscribers agree, unknown when they do not', () => {
    const set = new ServiceSet();
    set.merge({ name: 'b-service', routes: [], events: [{ name: 'z.last' }, { name: 'a.first' }, { name: 'shared' }] });
    set.replace({ name: 'a-service', routes: [], events: [{ name: 'a.first', payload: '{ id: number }' }, { name: 'shared', payload: '{ id: number }' }, { name: 'ready' }] });
    set.replace({ name: 'c-service', routes: [], events: [{ name: 'shared', payload: '{ id: string }' }] });
    const text = render(set);
    expect(text).toContain(`  interface EventRegistry {
    /** Subscribed to by a-service, b-service. */
    "a.first": { id: number };
    /** Subscribed to by a-service. */
    ready: unknown;
    /** Subscribed to by a-service, b-service, c-service. Its subscribers' handlers declare different payload types (a-service, c-service): unknown. */
    shared: unknown;
    /** Subscribed to by b-service. */
    "z.last": unknown;
  }
}
`);
  });

  it('never prints a name the event-name rule refuses, from a peer or anywhere else', () => {
    const answer = {
      thisService: { name: 'a', url: 'http://a', routes: [], events: [{ event: 'ok.one', group: 'a' }, { event: '"; declare const x: 1; //', group: 'a' }, { event: 'x\u2028y', group: 'a' }] },
      connectedPeers: { b: { url: 'http://b', routes: [], instances: [{ id: 'b1', url: 'http://b', events: [{ event: 'ok.two', group: 'b' }, { event: '*/ evil', group: 'b' }] }, { id: 'b2', url: 'http://b2' }] } },
    };
    const set = new ServiceSet();
    for (const service of parseServicesView('http://a', answer)) set.merge(service);
    set.merge({ name: 'c', routes: [], events: [{ name: 'bad name' }] });
    const text = render(set);
    const block = text.slice(text.indexOf('interface EventRegistry'));
    expect(block.match(/^ {4}\S+: unknown;$/gm)).toEqual(['    "ok.one": unknown;', '    "ok.two": unknown;']);
    expect(text).not.toMatch(/declare const x|evil|bad name|\u2028/);
  });
});
