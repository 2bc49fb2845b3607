/**
 * Deadlines across services: a call tells its callee how long it has left (x-micro-timeout), and
 * the calls the callee's handler makes inherit that, with nothing passed by hand; a call whose
 * request has no time left is not sent. Real Express servers on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startService, stopAll, upInstances, waitFor } from '../helpers.ts';

afterEach(stopAll);

describe('deadlines', () => {
  it('cross two hops: the innermost call ends when the outermost caller gives up, not at its own timeout', async () => {
    const seen: { header?: string; hopError?: string } = {};
    let stalled = 0;
    const c = await startService('c-service', (app) => {
      app.get('/stall', (req) => {
        stalled++;
        seen.header = String(req.headers['x-micro-timeout']);
        // Never answers: only a deadline ends the wait.
      });
    });
    const b = await startService('b-service', (app, micro) => {
      app.get('/hop', async (_req, res) => {
        // No timeout given here: the default is 10 s, but the request came with less.
        await new Promise((resolve) => setTimeout(resolve, 1)); // the deadline survives an await
        try {
          await micro.services.cService.getStall();
          res.json({ ok: true });
        } catch (error) {
          seen.hopError = (error as Error).name;
          res.status(504).json({ error: (error as Error).name });
        }
      });
    }, { peers: [c.url] });
    const a = await startService('a-service', () => {}, { peers: [c.url] });
    await waitFor(() => upInstances(a.micro, 'b-service').length === 1 && upInstances(b.micro, 'c-service').length === 1, 'a sees b, b sees c');

    const started = Date.now();
    const error = await a.micro.services.bService.getHop({}, { timeout: 400 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'TimeoutError', timeout: 400 });
    expect(stalled).toBe(1);
    expect(Number(seen.header)).toBeGreaterThan(0);
    expect(Number(seen.header)).toBeLessThanOrEqual(400);
    // b's own call to c gave up with the deadline it inherited, long before its 10 s default.
    await waitFor(() => seen.hopError !== undefined, "b's call to c ended", 2000);
    expect(seen.hopError).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(2400);
  }, 10_000);

  it('does not start a call whose request has no time left', async () => {
    let reached = 0;
    const c = await startService('c-service', (app) => app.get('/thing', (_req, res) => res.json({ reached: ++reached })));
    const outcome: { error?: { name: string; message: string } } = {};
    const b = await startService('b-service', (app, micro) => {
      app.get('/late', async (req, res) => {
        const deadline = Date.now() + Number(req.headers['x-micro-timeout']);
        // Wait (on a condition, bounded) until this request's deadline has passed, then call.
        while (Date.now() <= deadline) await new Promise((resolve) => setTimeout(resolve, 5));
        try {
          await micro.services.cService.getThing();
        } catch (error) {
          outcome.error = { name: (error as Error).name, message: (error as Error).message };
        }
        res.end();
      });
    }, { peers: [c.url] });
    await waitFor(() => upInstances(b.micro, 'c-service').length === 1, 'b sees c');
    const response = await fetch(`${b.url}/late`, { headers: { 'x-micro-timeout': '50' } });
    expect(response.status).toBe(200);
    expect(outcome.error?.name).toBe('TimeoutError');
    expect(outcome.error?.message).toContain('was not sent');
    expect(reached).toBe(0);
  }, 10_000);

  it('ignores a malformed, zero or huge x-micro-timeout and keeps its own timeout', async () => {
    const c = await startService('c-service', (app) => app.get('/thing', (req, res) => res.json({ header: req.headers['x-micro-timeout'] })));
    const b = await startService('b-service', (app, micro) => {
      app.get('/relay', async (_req, res) => res.json(await micro.services.cService.getThing({}, { timeout: 3000 })));
    }, { peers: [c.url] });
    await waitFor(() => upInstances(b.micro, 'c-service').length === 1, 'b sees c');
    for (const bad of ['abc', '0', '-5', '1e3', '999999999999', '12.5', '100ms']) {
      const response = await fetch(`${b.url}/relay`, { headers: { 'x-micro-timeout': bad } });
      expect(response.status).toBe(200);
      const { header } = (await response.json()) as { header: string };
      // c was told b's own 3 s (less what the hop took), not the bad value.
      expect(Number(header)).toBeGreaterThan(2000);
      expect(Number(header)).toBeLessThanOrEqual(3000);
    }
  }, 10_000);
});
