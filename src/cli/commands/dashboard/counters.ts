/**
 * What one instance's `GET /_discovery/metrics` (JSON) says about the calls it made, and how much
 * of it is new since the last time it was read. Counters only grow while an instance lives; a
 * restarted instance starts again from zero, so a value lower than the last one means a reset,
 * and the increase is then the whole new value (Prometheus' rule), never a negative rate.
 */
import type { Bucket } from './quantile.ts';

/** The metric families the dashboard reads. */
export const CALLS_FAMILY = 'express_micro_calls_total';
export const DURATION_FAMILY = 'express_micro_call_duration_seconds';

/** One latency histogram: cumulative counts by finite upper bound, and the total (+Inf). */
export interface HistogramCounts {
  readonly buckets: ReadonlyMap<number, number>;
  readonly count: number;
}

/** One instance's call counters, as read: series keys are `service\ncall\noutcome` and `service\ncall`. */
export interface InstanceCounters {
  readonly calls: ReadonlyMap<string, number>;
  readonly durations: ReadonlyMap<string, HistogramCounts>;
}

/** What one service's callers did in one interval: calls, failed calls, and the latency histogram. */
export interface ServiceDelta {
  calls: number;
  errors: number;
  /** Increase of each cumulative bucket, by upper bound. */
  buckets: Map<number, number>;
  /** Increase of the +Inf bucket (every observation). */
  observed: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function samplesOf(metrics: Record<string, unknown>, family: string): Record<string, unknown>[] {
  const entry = metrics[family];
  if (!isRecord(entry) || !Array.isArray(entry.samples)) return [];
  return entry.samples.filter(isRecord);
}

function label(sample: Record<string, unknown>, name: string): string | undefined {
  const labels = sample.labels;
  if (!isRecord(labels)) return undefined;
  const value = labels[name];
  return typeof value === 'string' ? value : undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * The call counters in a metrics answer. Whatever is malformed (an unknown shape, a negative or
 * non-numeric value, a sample without its labels) is left out, not trusted; an answer with
 * neither family gives empty maps.
 */
export function readCounters(answer: unknown): InstanceCounters {
  const calls = new Map<string, number>();
  const durations = new Map<string, HistogramCounts>();
  if (!isRecord(answer)) return { calls, durations };
  for (const sample of samplesOf(answer, CALLS_FAMILY)) {
    const service = label(sample, 'service');
    const call = label(sample, 'call');
    const outcome = label(sample, 'outcome');
    const value = count(sample.value);
    if (service === undefined || call === undefined || outcome === undefined || value === undefined) continue;
    calls.set(`${service}\n${call}\n${outcome}`, value);
  }
  for (const sample of samplesOf(answer, DURATION_FAMILY)) {
    const service = label(sample, 'service');
    const call = label(sample, 'call');
    const total = count(sample.count);
    if (service === undefined || call === undefined || total === undefined || !Array.isArray(sample.buckets)) continue;
    const buckets = new Map<number, number>();
    for (const bucket of sample.buckets) {
      if (!isRecord(bucket)) continue;
      const le = bucket.le;
      const value = count(bucket.count);
      if (typeof le === 'number' && Number.isFinite(le) && value !== undefined) buckets.set(le, value);
    }
    durations.set(`${service}\n${call}`, { buckets, count: total });
  }
  return { calls, durations };
}

/** How much a counter grew from `before` to `now`; a lower value is a reset, counted from zero. */
export function counterIncrease(before: number | undefined, now: number): number {
  if (before === undefined || now < before) return now;
  return now - before;
}

function serviceOf(key: string): string {
  return key.slice(0, key.indexOf('\n'));
}

function deltaFor(deltas: Map<string, ServiceDelta>, service: string): ServiceDelta {
  let delta = deltas.get(service);
  if (delta === undefined) {
    delta = { calls: 0, errors: 0, buckets: new Map(), observed: 0 };
    deltas.set(service, delta);
  }
  return delta;
}

/**
 * What `now` adds to `before` (the same instance, read one interval earlier), summed by target
 * service into `into`. A series new since `before` counts from zero (the instance made its first
 * such call in between); a histogram whose total went down was reset and counts whole.
 */
export function addIncrease(into: Map<string, ServiceDelta>, before: InstanceCounters, now: InstanceCounters): void {
  for (const [key, value] of now.calls) {
    const increase = counterIncrease(before.calls.get(key), value);
    if (increase === 0) continue;
    const delta = deltaFor(into, serviceOf(key));
    delta.calls += increase;
    if (!key.endsWith('\nok')) delta.errors += increase;
  }
  for (const [key, histogram] of now.durations) {
    const old = before.durations.get(key);
    const reset = old === undefined || histogram.count < old.count;
    const observed = reset ? histogram.count : histogram.count - old.count;
    if (observed === 0) continue;
    const delta = deltaFor(into, serviceOf(key));
    delta.observed += observed;
    for (const [le, value] of histogram.buckets) {
      const increase = reset ? value : Math.max(0, value - (old.buckets.get(le) ?? 0));
      delta.buckets.set(le, (delta.buckets.get(le) ?? 0) + increase);
    }
  }
}

/** Cumulative buckets in ascending order of bound, from a map of bound → count. */
export function sortedBuckets(buckets: ReadonlyMap<number, number>): Bucket[] {
  return [...buckets].sort((a, b) => a[0] - b[0]).map(([le, value]) => ({ le, count: value }));
}
