/**
 * Trace propagation (W3C Trace Context level 1): a call made while serving a request carries that
 * request's trace (same trace id and flags, a new parent id, the tracestate as received); a
 * request without a valid traceparent makes calls without one. Three real services on 127.0.0.1:
 * a → b → c. No OpenTelemetry here (test/otel/ has it, on Node).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, stopAll, upInstances, waitFor, type TestService } from '../helpers.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;
const TRACEPARENT_SHAPE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

type Seen = { traceparent: string | undefined; tracestate: string | undefined };

/** What b and c saw for the last request into a. */
const last: { b?: Seen | undefined; c?: Seen | undefined } = {};
let a: TestService;

function seen(headers: Record<string, string | string[] | undefined>): Seen {
  const { traceparent, tracestate } = headers;
  return { traceparent: traceparent === undefined ? undefined : String(traceparent), tracestate: tracestate === undefined ? undefined : String(tracestate) };
}

/** One request into a (which calls b, which calls c); returns what b and c saw. */
async function into(headers: HeadersInit): Promise<{ b: Seen; c: Seen }> {
  last.b = undefined;
  last.c = undefined;
  const response = await fetch(`${a.url}/front`, { headers });
  expect(response.status).toBe(200);
  await response.arrayBuffer();
  const { b, c } = last;
  if (b === undefined || c === undefined) throw new Error(`the call did not reach ${b === undefined ? 'b' : 'c'}`);
  return { b, c };
}

describe('tracing', () => {
  beforeAll(async () => {
    const c = await startService('c-service', (app) => {
      app.get('/leaf', (req, res) => {
        last.c = seen(req.headers);
        res.json({ ok: true });
      });
    });
    const b = await startService('b-service', (app, micro) => {
      app.get('/middle', async (req, res) => {
        last.b = seen(req.headers);
        // The trace survives an await, as the deadline does.
        await new Promise((resolve) => setTimeout(resolve, 1));
        res.json(await micro.services.cService.getLeaf());
      });
    }, { peers: [c.url] });
    a = await startService('a-service', (app, micro) => {
      app.get('/front', async (_req, res) => res.json(await micro.services.bService.getMiddle()));
    }, { peers: [b.url, c.url] });
    await waitFor(() => upInstances(a.micro, 'b-service').length === 1 && upInstances(b.micro, 'c-service').length === 1, 'a sees b, b sees c');
  });

  afterAll(stopAll);

  it('a traceparent crosses two hops: same trace id and flags, a new parent id at each hop, the tracestate kept', async () => {
    const { b, c } = await into({ traceparent: TRACEPARENT, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' });
    const atB = TRACEPARENT_SHAPE.exec(b.traceparent ?? '');
    const atC = TRACEPARENT_SHAPE.exec(c.traceparent ?? '');
    expect(atB?.[1]).toBe(TRACE_ID);
    expect(atC?.[1]).toBe(TRACE_ID);
    expect(atB?.[3]).toBe('01');
    expect(atC?.[3]).toBe('01');
    const parents = new Set([PARENT_ID, atB?.[2], atC?.[2]]);
    expect(parents.size).toBe(3);
    expect(b.tracestate).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    expect(c.tracestate).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  }, 10_000);

  it('keeps unsampled flags, and a new parent id for every call', async () => {
    const first = await into({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` });
    const second = await into({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` });
    expect(first.b.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
    expect(first.c.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
    expect(second.b.traceparent).not.toBe(first.b.traceparent);
    expect(first.b.tracestate).toBeUndefined();
  }, 10_000);

  it('no traceparent in, none out (a tracestate alone is not passed on)', async () => {
    const plain = await into({});
    expect(plain).toEqual({ b: { traceparent: undefined, tracestate: undefined }, c: { traceparent: undefined, tracestate: undefined } });
    const alone = await into({ tracestate: 'congo=t61rcWkgMzE' });
    expect(alone).toEqual({ b: { traceparent: undefined, tracestate: undefined }, c: { traceparent: undefined, tracestate: undefined } });
  }, 10_000);

  it('ignores every invalid traceparent, and then its tracestate too', async () => {
    const invalid: Record<string, string> = {
      empty: '',
      garbage: 'not a traceparent',
      'wrong separators': `00_${TRACE_ID}_${PARENT_ID}_01`,
      'upper-case hex': `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`,
      'upper-case parent id': `00-${TRACE_ID}-${PARENT_ID.toUpperCase()}-01`,
      'all-zero trace id': `00-${'0'.repeat(32)}-${PARENT_ID}-01`,
      'all-zero parent id': `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
      'version ff': `ff-${TRACE_ID}-${PARENT_ID}-01`,
      'short trace id': `00-${TRACE_ID.slice(2)}-${PARENT_ID}-01`,
      'non-hex flags': `00-${TRACE_ID}-${PARENT_ID}-0g`,
      'version 00 with more fields': `00-${TRACE_ID}-${PARENT_ID}-01-extra`,
      'later version, no dash after the flags': `01-${TRACE_ID}-${PARENT_ID}-01x`,
      oversized: `01-${TRACE_ID}-${PARENT_ID}-01-${'a'.repeat(4096)}`,
    };
    for (const [label, traceparent] of Object.entries(invalid)) {
      const { b, c } = await into({ traceparent, tracestate: 'congo=t61rcWkgMzE' });
      expect({ label, b, c }).toEqual({ label, b: { traceparent: undefined, tracestate: undefined }, c: { traceparent: undefined, tracestate: undefined } });
    }
  }, 30_000);

  it('ignores a repeated traceparent header', async () => {
    const headers = new Headers();
    headers.append('traceparent', TRACEPARENT);
    headers.append('traceparent', `00-${TRACE_ID}-${'1'.repeat(16)}-01`);
    const { b } = await into(headers);
    expect(b).toEqual({ traceparent: undefined, tracestate: undefined });
  }, 10_000);

  it('reads a later version by its first four fields, and sends version 00', async () => {
    const { b } = await into({ traceparent: `cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-holds` });
    expect(b.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-(?!${PARENT_ID})[0-9a-f]{16}-01$`));
  }, 10_000);

  it('tracestate: repeated headers are one list; malformed, repeated keys or more than 32 members drop it; past 512 characters it is cut', async () => {
    const repeated = new Headers({ traceparent: TRACEPARENT });
    repeated.append('tracestate', 'congo=t61rcWkgMzE');
    repeated.append('tracestate', 'rojo=00f067aa0ba902b7');
    expect((await into(repeated)).c.tracestate).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');

    expect((await into({ traceparent: TRACEPARENT, tracestate: 'congo = t61rcWkgMzE' })).b.tracestate).toBeUndefined();
    expect((await into({ traceparent: TRACEPARENT, tracestate: 'Congo=t61rcWkgMzE' })).b.tracestate).toBeUndefined();
    expect((await into({ traceparent: TRACEPARENT, tracestate: 'congo=1,congo=2' })).b.tracestate).toBeUndefined();
    const many = Array.from({ length: 33 }, (_, index) => `k${index}=v`).join(',');
    expect((await into({ traceparent: TRACEPARENT, tracestate: many })).b.tracestate).toBeUndefined();
    const thirtyTwo = Array.from({ length: 32 }, (_, index) => `k${index}=v`).join(',');
    expect((await into({ traceparent: TRACEPARENT, tracestate: thirtyTwo })).c.tracestate).toBe(thirtyTwo);
    // Empty members and optional whitespace are allowed, and dropped when passed on.
    expect((await into({ traceparent: TRACEPARENT, tracestate: ' congo=t61rcWkgMzE ,, rojo=1\t' })).b.tracestate).toBe('congo=t61rcWkgMzE,rojo=1');

    // Too long: members over 128 characters go first, then members from the end.
    const long = `big=${'x'.repeat(200)}`;
    const small = Array.from({ length: 31 }, (_, index) => `key${String(index).padStart(2, '0')}=${'v'.repeat(10)}`);
    const cut = (await into({ traceparent: TRACEPARENT, tracestate: [small[0], long, ...small.slice(1)].join(',') })).c.tracestate ?? '';
    // 31 members of 16 characters make 526: the last goes too.
    expect(cut).toBe(small.slice(0, 30).join(','));
    expect(cut.length).toBeLessThanOrEqual(512);
    // And the trace itself still crosses.
    expect((await into({ traceparent: TRACEPARENT, tracestate: many })).c.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-`));
  }, 30_000);

  it('a call made outside any request sends no traceparent', async () => {
    last.b = undefined;
    await a.micro.services.bService.getMiddle();
    expect(last.b).toEqual({ traceparent: undefined, tracestate: undefined });
  }, 10_000);
});
