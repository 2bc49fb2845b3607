/**
 * Trace propagation with OpenTelemetry on Node: the SDK (NodeTracerProvider, W3C propagator,
 * AsyncLocalStorage context) and @opentelemetry/instrumentation-undici registered, as an app
 * would. Calls show up as undici client spans, under the active span or the incoming trace, and
 * the callee gets exactly one traceparent, whose parent id is that client span. With the
 * instrumentation off, the active span is propagated through the registered propagator.
 * Node only: the SDK's context manager and the undici instrumentation are Node's.
 */
import { context, propagation, trace, SpanKind } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startService, stopAll, upInstances, waitFor, type TestService } from '../helpers.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;
const SHAPE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

type Seen = { traceparent: string | undefined; tracestate: string | undefined; lines: number };

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
// Discovery's own requests (pings, gossip) go through the same undici client, and this file's
// fetch into a is Node's undici too (instrumented, it would add a traceparent of its own next to
// the test's): leave both out. (Constructed enabled: one constructed with `enabled: false` stays
// inert even after enable().)
const ENTRY = /^\/(_discovery|front|in-span)\b/;
const instrumentation = new UndiciInstrumentation({ ignoreRequestHook: (request) => ENTRY.test(request.path) });
instrumentation.disable();
const tracer = trace.getTracer('express-micro-test');

const last: { b?: Seen | undefined; c?: Seen | undefined } = {};
let a: TestService;

function seen(headers: Record<string, string | string[] | undefined>, raw: string[]): Seen {
  const lines = raw.filter((name, index) => index % 2 === 0 && name.toLowerCase() === 'traceparent').length;
  const value = (name: string): string | undefined => (headers[name] === undefined ? undefined : String(headers[name]));
  return { traceparent: value('traceparent'), tracestate: value('tracestate'), lines };
}

async function into(path: string, headers: Record<string, string> = {}): Promise<{ b: Seen; c: Seen; answer: { traceId?: string; spanId?: string } }> {
  last.b = undefined;
  last.c = undefined;
  const response = await fetch(`${a.url}${path}`, { headers });
  expect(response.status).toBe(200);
  const answer = (await response.json()) as { traceId?: string; spanId?: string };
  const { b, c } = last;
  if (b === undefined || c === undefined) throw new Error(`the call did not reach ${b === undefined ? 'b' : 'c'}`);
  return { b, c, answer };
}

function parts(seen: Seen): { traceId: string; parentId: string; flags: string } {
  const match = SHAPE.exec(seen.traceparent ?? '');
  if (!match) throw new Error(`not a single valid traceparent: ${seen.traceparent}`);
  return { traceId: match[1] as string, parentId: match[2] as string, flags: match[3] as string };
}

async function clientSpan(spanId: string): Promise<ReadableSpan> {
  let found: ReadableSpan | undefined;
  await waitFor(() => (found = exporter.getFinishedSpans().find((span) => span.spanContext().spanId === spanId)) !== undefined, `the client span ${spanId} ended`);
  return found as ReadableSpan;
}

describe('OpenTelemetry on Node', () => {
  beforeAll(async () => {
    provider.register();
    instrumentation.setTracerProvider(provider);
    const c = await startService('c-service', (app) => {
      app.get('/leaf', (req, res) => {
        last.c = seen(req.headers, req.rawHeaders);
        res.json({ ok: true });
      });
    });
    const b = await startService('b-service', (app, micro) => {
      app.get('/middle', async (req, res) => {
        last.b = seen(req.headers, req.rawHeaders);
        res.json(await micro.services.cService.getLeaf());
      });
    }, { peers: [c.url] });
    a = await startService('a-service', (app, micro) => {
      app.get('/front', async (_req, res) => {
        await micro.services.bService.getMiddle();
        res.json({});
      });
      // A span of the app's own around the call (what an HTTP server instrumentation's span would be).
      app.get('/in-span', (_req, res) => {
        void tracer.startActiveSpan('work', async (span) => {
          await micro.services.bService.getMiddle();
          span.end();
          res.json({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });
        });
      });
    }, { peers: [b.url, c.url] });
    await waitFor(() => upInstances(a.micro, 'b-service').length === 1 && upInstances(b.micro, 'c-service').length === 1, 'a sees b, b sees c');
  });

  afterAll(async () => {
    await stopAll();
    instrumentation.disable();
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
    // Nothing of the SDK's is left registered (and vitest runs each file in a process of its own).
    const api = (globalThis as Record<symbol, Record<string, unknown> | undefined>)[Symbol.for('opentelemetry.js.api.1')];
    expect([api?.trace, api?.context, api?.propagation]).toEqual([undefined, undefined, undefined]);
  });

  beforeEach(() => exporter.reset());

  describe('with the undici instrumentation', () => {
    beforeAll(() => instrumentation.enable());
    afterAll(() => instrumentation.disable());

    it('a traceparent crosses two hops as undici client spans: one header each, parented on the client span', async () => {
      const { b, c } = await into('/front', { traceparent: TRACEPARENT, tracestate: 'congo=t61rcWkgMzE' });
      expect([b.lines, c.lines]).toEqual([1, 1]);
      const atB = parts(b);
      const atC = parts(c);
      expect([atB.traceId, atC.traceId]).toEqual([TRACE_ID, TRACE_ID]);
      expect([atB.flags, atC.flags]).toEqual(['01', '01']);
      expect(new Set([PARENT_ID, atB.parentId, atC.parentId]).size).toBe(3);
      expect([b.tracestate, c.tracestate]).toEqual(['congo=t61rcWkgMzE', 'congo=t61rcWkgMzE']);
      // a's call is a client span under the caller's span; b's call a client span under a's.
      const fromA = await clientSpan(atB.parentId);
      const fromB = await clientSpan(atC.parentId);
      expect(fromA.kind).toBe(SpanKind.CLIENT);
      expect(fromB.kind).toBe(SpanKind.CLIENT);
      expect(fromA.parentSpanContext?.spanId).toBe(PARENT_ID);
      expect(fromB.parentSpanContext?.spanId).toBe(atB.parentId);
      expect(fromA.attributes['url.full']).toMatch(/\/middle$/);
    }, 15_000);

    it('under an active span, the client span is its child and carries its trace', async () => {
      const { b, answer } = await into('/in-span', { traceparent: TRACEPARENT });
      expect(b.lines).toBe(1);
      const atB = parts(b);
      // The app's span joined the incoming trace (its parent is the caller's span).
      expect(answer.traceId).toBe(TRACE_ID);
      expect(atB.traceId).toBe(TRACE_ID);
      expect((await clientSpan(atB.parentId)).parentSpanContext?.spanId).toBe(answer.spanId);
      const work = exporter.getFinishedSpans().find((span) => span.name === 'work');
      expect(work?.parentSpanContext?.spanId).toBe(PARENT_ID);
    }, 15_000);

    it('OTel active span, no incoming header: the call carries the active span\'s trace id', async () => {
      const { b, c, answer } = await into('/in-span');
      expect(answer.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect([b.lines, c.lines]).toEqual([1, 1]);
      expect(parts(b).traceId).toBe(answer.traceId);
      expect(parts(c).traceId).toBe(answer.traceId);
    }, 15_000);
  });

  describe('without the undici instrumentation', () => {
    it('the active span goes out through the registered propagator: its trace id and its span id', async () => {
      const { b, c, answer } = await into('/in-span');
      expect(b.traceparent).toBe(`00-${answer.traceId}-${answer.spanId}-01`);
      // b has no span of its own: its call carries the trace on with a new parent id, as without OTel.
      expect(parts(c).traceId).toBe(answer.traceId);
      expect(parts(c).parentId).not.toBe(answer.spanId);
    }, 15_000);

    it('no active span: the request\'s own trace, a new parent id at each hop', async () => {
      const { b, c } = await into('/front', { traceparent: TRACEPARENT, tracestate: 'congo=t61rcWkgMzE' });
      expect(new Set([PARENT_ID, parts(b).parentId, parts(c).parentId]).size).toBe(3);
      expect([parts(b).traceId, parts(c).traceId]).toEqual([TRACE_ID, TRACE_ID]);
      expect([b.tracestate, c.tracestate]).toEqual(['congo=t61rcWkgMzE', 'congo=t61rcWkgMzE']);
      expect(exporter.getFinishedSpans()).toEqual([]);
    }, 15_000);

    it('no trace in and no span: none out', async () => {
      const { b, c } = await into('/front');
      expect([b.traceparent, c.traceparent]).toEqual([undefined, undefined]);
    }, 15_000);
  });
});
