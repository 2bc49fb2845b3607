/**
 * Issue 20, point 2: a list of secrets. The first is sent, every one is accepted (Bearer, HMAC on
 * discovery, `requireSignature()`), and what was accepted under a later one is counted. Bad
 * lists and environments throw OptionError naming `secret`, never showing a secret.
 */
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors/index.ts';
import expressMicro from '../../src/index.ts';
import type { ExpressMicro, ExpressMicroOptions } from '../../src/index.ts';
import { resolveSecrets, signRequest } from '../../src/security/index.ts';
import { discovery, startService, stopAll, upInstances, waitFor } from '../helpers.ts';

const OLD = 'old-secret-0123456789abcdef';
const NEW = 'new-secret-fedcba9876543210';
const STRANGER = 'other-secret-00000000000000';

const saved = { key: process.env.EXPRESS_DISCOVERY_KEY, previous: process.env.EXPRESS_DISCOVERY_KEY_PREVIOUS };
function restoreEnv(): void {
  for (const [name, value] of [['EXPRESS_DISCOVERY_KEY', saved.key], ['EXPRESS_DISCOVERY_KEY_PREVIOUS', saved.previous]] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

afterEach(async () => {
  restoreEnv();
  await stopAll();
});

function previousAccepted(micro: ExpressMicro): number {
  const family = micro.metrics().express_micro_previous_secret_accepted_total;
  return family?.type === 'counter' ? (family.samples[0]?.value ?? -1) : -1;
}

function optionErrorOf(run: () => unknown): OptionError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OptionError);
    return error as OptionError;
  }
  throw new Error('expected an OptionError');
}

describe('secret lists and the environment', () => {
  it('refuses an empty list, a short or non-string entry, a duplicate and too many, naming `secret` and never a secret', () => {
    delete process.env.EXPRESS_DISCOVERY_KEY;
    delete process.env.EXPRESS_DISCOVERY_KEY_PREVIOUS;
    const cases: [unknown, RegExp][] = [
      [[], /at least one/],
      [[NEW, 'short-secret'], /entry 1\) is shorter than 16/],
      [[NEW, 42], /\[1\] must be a string/],
      [[NEW, OLD, NEW], /same secret twice \(entries 0 and 2\)/],
      [[NEW, OLD, STRANGER, 'fourth-secret-0123456', 'fifth-secret-01234567'], /at most 4/],
      [{ first: NEW }, /string or an array/],
    ];
    for (const [secret, message] of cases) {
      const error = optionErrorOf(() => resolveSecrets(secret as string[]));
      expect(error.option).toBe('secret');
      expect(error.message).toMatch(message);
      for (const value of [NEW, OLD, STRANGER]) expect(error.message).not.toContain(value);
    }
    // The option's own type check runs first in expressMicro(); it names `secret` too.
    expect(optionErrorOf(() => expressMicro(express(), { host: '127.0.0.1', logger: false, secret: 42 as unknown as string })).option).toBe('secret');
    expect(resolveSecrets([NEW, OLD])).toEqual([NEW, OLD]);
  });

  it('reads EXPRESS_DISCOVERY_KEY_PREVIOUS after EXPRESS_DISCOVERY_KEY, and refuses it alone, short or the same', () => {
    process.env.EXPRESS_DISCOVERY_KEY = NEW;
    process.env.EXPRESS_DISCOVERY_KEY_PREVIOUS = OLD;
    expect(resolveSecrets(STRANGER)).toEqual([NEW, OLD]);
    process.env.EXPRESS_DISCOVERY_KEY_PREVIOUS = '';
    expect(resolveSecrets(undefined)).toEqual([NEW]);

    process.env.EXPRESS_DISCOVERY_KEY_PREVIOUS = NEW;
    expect(optionErrorOf(() => resolveSecrets(undefined)).message).toMatch(/EXPRESS_DISCOVERY_KEY_PREVIOUS\) is the same as EXPRESS_DISCOVERY_KEY/);
    process.env.EXPRESS_DISCOVERY_KEY_PREVIOUS = 'too-short';
    const short = optionErrorOf(() => resolveSecrets(undefined));
    expect(short.message).toMatch(/EXPRESS_DISCOVERY_KEY_PREVIOUS environment variable\) is shorter/);
    expect(short.message).not.toContain('too-short');
    delete process.env.EXPRESS_DISCOVERY_KEY;
    process.env.EXPRESS_DISCOVERY_KEY_PREVIOUS = OLD;
    expect(optionErrorOf(() => resolveSecrets([NEW])).message).toMatch(/is set but EXPRESS_DISCOVERY_KEY is not/);
  });
});

describe('Bearer with a list of secrets', () => {
  it('accepts every secret, counts only the later ones, and refuses missing, wrong, malformed and oversized tokens', async () => {
    const service = await startService('rotating', undefined, { secret: [NEW, OLD] });
    const status = async (init: Parameters<typeof discovery>[2]) => (await discovery(service.url, '/services', init)).status;

    expect(await status({ bearer: NEW })).toBe(200);
    expect(previousAccepted(service.micro)).toBe(0);
    expect(await status({ bearer: OLD })).toBe(200);
    expect(await status({ bearer: OLD })).toBe(200);
    expect(previousAccepted(service.micro)).toBe(2);
    const last = service.micro.metrics().express_micro_previous_secret_last_accepted_timestamp_seconds;
    expect(last?.type === 'gauge' ? last.samples[0]?.value : 0).toBeGreaterThan(Date.now() / 1000 - 60);

    expect(await status({ bearer: false })).toBe(401);
    expect(await status({ bearer: STRANGER })).toBe(401);
    expect(await status({ bearer: `${OLD}x` })).toBe(401);
    expect(await status({ bearer: OLD.slice(0, -1) })).toBe(401);
    expect(await status({ bearer: false, headers: { authorization: `Basic ${OLD}` } })).toBe(401);
    expect(await status({ bearer: false, headers: { authorization: `Bearer ${NEW},${OLD}` } })).toBe(401);
    expect(await status({ bearer: 'x'.repeat(8192) })).toBe(401);
    expect(previousAccepted(service.micro)).toBe(2);
  });

  it('sends only the first secret: an instance that dropped it refuses this one, and one that lists it second counts it', async () => {
    const oldOnly = await startService('old-only', undefined, { secret: [OLD] });
    const rotated = await startService('rotated', undefined, { secret: [NEW, OLD], peers: [oldOnly.url] });
    const bridge = await startService('bridge', undefined, { secret: [OLD, NEW], peers: [rotated.url] });
    // bridge sends OLD: `rotated` takes it as a previous secret, `old-only` as its own.
    await waitFor(() => upInstances(bridge.micro, 'rotated').length === 1 && upInstances(rotated.micro, 'bridge').length === 1, 'bridge and rotated see each other');
    await waitFor(() => previousAccepted(rotated.micro) > 0, 'rotated counts what bridge sent under OLD');
    await waitFor(() => previousAccepted(bridge.micro) > 0, 'bridge counts what rotated sent under NEW, its second');
    expect(previousAccepted(oldOnly.micro)).toBe(0);
    // old-only never accepts NEW, so rotated never sees it UP: no split-brain acceptance.
    expect((await discovery(oldOnly.url, '/services', { bearer: NEW })).status).toBe(401);
    expect(upInstances(rotated.micro, 'old-only')).toEqual([]);
  });
});

describe('HMAC with a list of secrets', () => {
  const hmac: ExpressMicroOptions = { enableHmac: true };

  it('verifies a signature under any listed secret on discovery and requireSignature(), and refuses one under a dropped secret', async () => {
    const service = await startService('signed', (app, micro) => app.post('/orders', micro.requireSignature(), (req, res) => res.json({ got: req.body as unknown })), { ...hmac, secret: [NEW, OLD] });
    const dropped = await startService('dropped', (app, micro) => app.post('/orders', micro.requireSignature(), (req, res) => res.json({ got: req.body as unknown })), { ...hmac, secret: [NEW] });
    const body = '{"n":1}';
    const post = (target: typeof service, secret: string) =>
      fetch(`${target.url}/orders`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...signRequest(secret, 'POST', '/orders', body, Date.now(), target.micro.peers().find((peer) => peer.self)?.id ?? '') } });
    const services = (target: typeof service, secret: string) =>
      fetch(`${target.url}/_discovery/services`, { headers: signRequest(secret, 'GET', '/_discovery/services', undefined) });

    expect((await post(service, NEW)).status).toBe(200);
    expect((await services(service, NEW)).status).toBe(200);
    expect(previousAccepted(service.micro)).toBe(0);
    const accepted = await post(service, OLD);
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ got: { n: 1 } });
    expect((await services(service, OLD)).status).toBe(200);
    expect(previousAccepted(service.micro)).toBe(2);

    expect((await post(service, STRANGER)).status).toBe(401);
    expect((await services(service, STRANGER)).status).toBe(401);
    expect((await post(dropped, OLD)).status).toBe(401);
    expect((await services(dropped, OLD)).status).toBe(401);
    // Bearer is no way in when the cluster signs, whichever secret it carries.
    expect((await discovery(service.url, '/services', { bearer: OLD })).status).toBe(401);
    expect(previousAccepted(service.micro)).toBe(2);
  });

  it('forms one cluster of [OLD, NEW] and [NEW, OLD] members and calls across it', async () => {
    const users = await startService('users', (app, micro) => app.get('/users/:id', micro.requireSignature(), (req, res) => res.json({ id: req.params.id })), { ...hmac, secret: [NEW, OLD] });
    const orders = await startService('orders', undefined, { ...hmac, secret: [OLD, NEW], peers: [users.url] });
    await waitFor(() => upInstances(orders.micro, 'users').length === 1, 'orders sees users');
    expect(await orders.micro.services.users.getUser({ id: 7 })).toEqual({ id: '7' });
    expect(previousAccepted(users.micro)).toBeGreaterThan(0);
  });
});
