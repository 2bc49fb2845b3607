import express from 'express';
import { describe, expect, it } from 'vitest';
import expressMicro from '../../src/index.ts';
import type { ExpressMicroOptions } from '../../src/index.ts';
import { SECRET, waitFor } from '../helpers.ts';

function attempt(options: unknown): unknown {
  try {
    const micro = expressMicro(express(), { host: '127.0.0.1', secret: SECRET, logger: false, ...(options as ExpressMicroOptions) });
    void micro.close();
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('options', () => {
  it.each([
    ['peers', { peers: ['not a url'] }],
    ['peers', { peers: ['ftp://127.0.0.1:21'] }],
    ['peers', { peers: 'http://127.0.0.1:3000' }],
    ['peers', { peers: [42] }],
    ['pingInterval', { pingInterval: -5 }],
    ['pingInterval', { pingInterval: 1.5 }],
    ['pingInterval', { pingInterval: '5000' }],
    ['pingTimeout', { pingInterval: 100, pingTimeout: 100 }],
    ['timeout', { timeout: 0 }],
    ['retries', { retries: -1 }],
    ['port', { port: 70000 }],
    ['host', { host: 'http://127.0.0.1' }],
    ['serviceName', { serviceName: '' }],
    ['serviceName', { serviceName: '__proto__' }],
    ['serviceName', { serviceName: 'a'.repeat(101) }],
    ['ipWhitelist', { ipWhitelist: ['10.0.0.0/33'] }],
    ['ipWhitelist', { ipWhitelist: ['not-an-ip'] }],
    ['ipWhitelist', { ipWhitelist: '127.0.0.1' }],
    ['enableHmac', { enableHmac: 'yes' }],
    ['secret', { secret: 'short' }],
    ['logger', { logger: 'console' }],
    ['onServiceUp', { onServiceUp: 'not a function' }],
    ['pingIntervall', { pingIntervall: 100 }],
    ['balancer', { balancer: 'random' }],
    ['outlierDetection', { outlierDetection: true }],
    ['outlierDetection', { outlierDetection: { consecutive: 3 } }],
    ['outlierDetection.consecutiveFailures', { outlierDetection: { consecutiveFailures: 0 } }],
    ['outlierDetection.maxEjectionTime', { outlierDetection: { baseEjectionTime: 5000, maxEjectionTime: 1000 } }],
    ['retryOn', { retryOn: [200] }],
    ['retryOn', { retryOn: '503' }],
    ['retryBudget', { retryBudget: [] }],
    ['retryBudget.ratio', { retryBudget: { ratio: -1 } }],
    ['retryBudget.minPerSecond', { retryBudget: { minPerSecond: 0.5 } }],
    ['hedge', { hedge: 'yes' }],
    ['secret', { secret: [] }],
    ['secret', { secret: [SECRET, SECRET] }],
    ['drain', { drain: 'yes' }],
    ['drain', { drain: { grace: 1000 } }],
    ['drain.timeout', { drain: { timeout: 0 } }],
    ['metadata', { metadata: 'v2' }],
    ['metadata', { metadata: ['v2'] }],
    ['metadata', { metadata: new Map([['version', '2']]) }],
    ['metadata', { metadata: { '': 'x' } }],
    ['metadata', { metadata: { '1st': 'x' } }],
    ['metadata', { metadata: { 'has space': 'x' } }],
    ['metadata', { metadata: { ['k'.repeat(64)]: 'x' } }],
    ['metadata', { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'x'])) }],
    ['metadata', { metadata: Object.fromEntries(Array.from({ length: 9 }, (_, index) => [`k${index}`, 'x'.repeat(250)])) }],
    ['metadata.version', { metadata: { version: 2 } }],
    ['metadata.track', { metadata: { track: null } }],
    ['metadata.note', { metadata: { note: 'x'.repeat(257) } }],
    ['metadata.note', { metadata: { note: 'line\nbreak' } }],
    ['metadata.note', { metadata: { note: '\u001b[31mred' } }],
    ['metadata.note', { metadata: { note: 'abc\u202edef' } }],
    ['zone', { zone: '' }],
    ['zone', { zone: 42 }],
    ['zone', { zone: 'eu west' }],
    ['zone', { zone: '-eu' }],
    ['zone', { zone: 'z'.repeat(64) }],
    ['events', { events: 'redis' }],
    ['events', { events: { type: 'cluster', url: 'redis://127.0.0.1:6379' } }],
    ['events.type', { events: { type: 'kafka' } }],
    ['events.maxPayloadBytes', { events: { maxPayloadBytes: 0 } }],
    ['events.maxPayloadBytes', { events: { maxPayloadBytes: 2_000_000 } }],
    ['events.maxInFlight', { events: { maxInFlight: 0 } }],
    ['events.url', { events: { type: 'redis' } }],
    ['events.url', { events: { type: 'redis', url: 'http://127.0.0.1:6379' } }],
    ['events.prefix', { events: { type: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'a b' } }],
    ['events.maxAttempts', { events: { type: 'redis', url: 'redis://127.0.0.1:6379', maxAttempts: 0 } }],
  ])('refuses a bad %s at once, naming it', (option, options) => {
    const error = attempt(options);
    expect(error).toBeInstanceOf(expressMicro.OptionError);
    expect(error).toBeInstanceOf(expressMicro.ExpressMicroError);
    expect((error as { option: string }).option).toBe(option);
    expect((error as Error).message).toContain(`\`${option}\``);
  });

  it('never puts the secret in an error message', () => {
    const error = attempt({ secret: 'tiny-secret' }) as Error;
    expect(error.message).not.toContain('tiny-secret');
    // Nor a Redis password from a bad events URL.
    const redis = attempt({ events: { type: 'redis', url: 'http://user:hunter2-password@127.0.0.1:6379' } }) as Error;
    expect(redis.message).not.toContain('hunter2-password');
  });

  it('refuses something that is not an Express app', () => {
    expect(() => expressMicro({} as never)).toThrow(expressMicro.OptionError);
  });

  it('names the service from npm_package_name by default', async () => {
    const previous = process.env.npm_package_name;
    process.env.npm_package_name = 'from-package-json';
    const app = express();
    const micro = expressMicro(app, { host: '127.0.0.1', secret: SECRET, logger: false });
    if (previous === undefined) delete process.env.npm_package_name;
    else process.env.npm_package_name = previous;
    const server = app.listen(0, '127.0.0.1');
    try {
      await waitFor(() => micro.peers().length === 1, 'started');
      expect(micro.peers()[0]).toMatchObject({ service: 'from-package-json', self: true, status: 'UP' });
    } finally {
      await micro.close();
      server.close();
    }
  });

  it('accepts the seed option table', () => {
    expect(attempt({ serviceName: 'a', port: 3000, peers: ['http://127.0.0.1:3001/'], pingInterval: 5000, ipWhitelist: ['127.0.0.1', '::1', '10.0.0.0/8'], enableHmac: true })).toBeUndefined();
  });
});
