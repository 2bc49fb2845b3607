/**
 * The dashboard's arithmetic: counter increases across resets, the sum by target service over
 * callers, the sliding window, and percentiles from histogram buckets (Prometheus'
 * histogram_quantile on known buckets).
 */
import { describe, expect, it } from 'vitest';
import { addIncrease, counterIncrease, readCounters, type ServiceDelta } from '../../src/cli/commands/dashboard/counters.ts';
import { histogramQuantile } from '../../src/cli/commands/dashboard/quantile.ts';
import { RateWindow } from '../../src/cli/commands/dashboard/rates.ts';

/** A metrics answer as `GET /_discovery/metrics` gives it in JSON. */
function metrics(calls: [service: string, call: string, outcome: string, value: number][], durations: [service: string, call: string, buckets: number[], count: number][] = []): unknown {
  const bounds = [0.001, 0.01, 0.1, 1];
  return {
    express_micro_calls_total: { type: 'counter', help: '', samples: calls.map(([service, call, outcome, value]) => ({ labels: { service, call, outcome }, value })) },
    express_micro_call_duration_seconds: {
      type: 'histogram',
      help: '',
      samples: durations.map(([service, call, counts, count]) => ({ labels: { service, call }, count, sum: 0, buckets: counts.map((value, index) => ({ le: bounds[index], count: value })) })),
    },
    express_micro_instances: { type: 'gauge', help: '', samples: [{ labels: { service: 'x', status: 'UP' }, value: 3 }] },
  };
}

describe('histogramQuantile', () => {
  const buckets = [
    { le: 0.1, count: 10 },
    { le: 0.2, count: 20 },
    { le: 0.5, count: 20 },
  ];

  it('interpolates linearly within the bucket the rank falls in, from 0 below the first', () => {
    expect(histogramQuantile(0.5, buckets, 20)).toBeCloseTo(0.1, 9);
    expect(histogramQuantile(0.25, buckets, 20)).toBeCloseTo(0.05, 9);
    expect(histogramQuantile(0.75, buckets, 20)).toBeCloseTo(0.15, 9);
    expect(histogramQuantile(0.95, buckets, 20)).toBeCloseTo(0.19, 9);
  });

  it('skips empty buckets, and answers the highest finite bound for a rank in +Inf', () => {
    expect(histogramQuantile(0.5, [{ le: 0.001, count: 0 }, { le: 0.01, count: 0 }, { le: 0.1, count: 10 }], 10)).toBeCloseTo(0.055, 9);
    expect(histogramQuantile(0.99, buckets, 25)).toBe(0.5);
  });

  it('is null when nothing was observed or q is out of range', () => {
    expect(histogramQuantile(0.5, buckets, 0)).toBeNull();
    expect(histogramQuantile(0.5, [], 0)).toBeNull();
    expect(histogramQuantile(1.5, buckets, 20)).toBeNull();
    expect(histogramQuantile(Number.NaN, buckets, 20)).toBeNull();
  });
});

describe('counter increases', () => {
  it('is the difference, the whole value after a reset (a restart), and the value for a new series', () => {
    expect(counterIncrease(3, 7)).toBe(4);
    expect(counterIncrease(7, 7)).toBe(0);
    expect(counterIncrease(10, 2)).toBe(2);
    expect(counterIncrease(undefined, 5)).toBe(5);
  });

  it('sums by target service across callers and counts every outcome but ok as an error', () => {
    const deltas = new Map<string, ServiceDelta>();
    const callerA = [readCounters(metrics([['users', 'getUser', 'ok', 10]])), readCounters(metrics([['users', 'getUser', 'ok', 15], ['users', 'getUser', 'timeout', 2], ['orders', 'list', 'ok', 1]]))] as const;
    const callerB = [readCounters(metrics([['users', 'getUser', 'ok', 100], ['users', 'getUser', 'remote', 50]])), readCounters(metrics([['users', 'getUser', 'ok', 3], ['users', 'getUser', 'remote', 1]]))] as const;
    addIncrease(deltas, ...callerA);
    addIncrease(deltas, ...callerB); // restarted: both series went down
    expect(deltas.get('users')).toMatchObject({ calls: 5 + 2 + 3 + 1, errors: 2 + 1 });
    expect(deltas.get('orders')).toMatchObject({ calls: 1, errors: 0 });
    for (const delta of deltas.values()) expect(delta.calls).toBeGreaterThanOrEqual(0);
  });

  it('takes histogram increases bucket by bucket, and the whole histogram after a reset', () => {
    const deltas = new Map<string, ServiceDelta>();
    addIncrease(deltas, readCounters(metrics([], [['users', 'getUser', [1, 5, 9, 10], 10]])), readCounters(metrics([], [['users', 'getUser', [1, 7, 15, 16], 16]])));
    addIncrease(deltas, readCounters(metrics([], [['users', 'getUser', [0, 50, 90, 100], 100]])), readCounters(metrics([], [['users', 'getUser', [0, 1, 2, 2], 2]])));
    const users = deltas.get('users') as ServiceDelta;
    expect(users.observed).toBe(6 + 2);
    expect([...users.buckets]).toEqual([[0.001, 0], [0.01, 2 + 1], [0.1, 6 + 2], [1, 6 + 2]]);
  });

  it('leaves out what is malformed instead of trusting it', () => {
    const read = readCounters({
      express_micro_calls_total: { samples: [{ labels: { service: 'a', call: 'b', outcome: 'ok' }, value: -1 }, { labels: { service: 'a', call: 'b' }, value: 1 }, { value: 1 }, 'x', { labels: { service: 'a', call: 'b', outcome: 'ok' }, value: 4 }] },
      express_micro_call_duration_seconds: { samples: [{ labels: { service: 'a', call: 'b' }, count: 'many', buckets: [] }] },
    });
    expect([...read.calls]).toEqual([['a\nb\nok', 4]]);
    expect(read.durations.size).toBe(0);
    expect(readCounters('404 page').calls.size).toBe(0);
    expect(readCounters(null).durations.size).toBe(0);
  });
});

describe('the rate window', () => {
  function delta(calls: number, errors: number, fast: number, slow: number): Map<string, ServiceDelta> {
    // `fast` calls took at most 10 ms, `slow` ones at most 100 ms.
    return new Map([['users', { calls, errors, buckets: new Map([[0.01, fast], [0.1, fast + slow]]), observed: fast + slow }]]);
  }

  it('gives calls per second, the error share and percentiles over the polls it keeps', () => {
    const window = new RateWindow(10_000);
    expect(window.rates('users')).toBeNull();
    window.add(0, 1000, delta(10, 1, 10, 0));
    window.add(1000, 2000, delta(30, 1, 20, 10));
    const rates = window.rates('users');
    expect(rates?.callsPerSecond).toBeCloseTo(20, 9);
    expect(rates?.errorRate).toBeCloseTo(0.05, 9);
    expect(rates?.p50).toBeCloseTo((0.01 * 20) / 30, 9);
    expect(rates?.p95).toBeCloseTo(0.01 + (0.09 * (38 - 30)) / 10, 9);
    expect(window.rates('orders')).toEqual({ callsPerSecond: 0, errorRate: null, p50: null, p95: null, p99: null });
  });

  it('forgets polls older than the window, so a burst fades', () => {
    const window = new RateWindow(3000);
    window.add(0, 1000, delta(100, 0, 100, 0));
    for (let at = 2000; at <= 5000; at += 1000) window.add(at - 1000, at, new Map());
    expect(window.rates('users')?.callsPerSecond).toBe(0);
    expect(window.seconds()).toBeCloseTo(3);
    expect(window.services().size).toBe(0);
  });
});
