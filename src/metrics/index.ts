/** Metrics: counters and histograms kept by the plugin, and the Prometheus text writer. */
export { EVENT_COUNTS, EventMetrics, type EventCount } from './events.ts';
export { EXPOSITION_CONTENT_TYPE, formatNumber, writeExposition } from './exposition.ts';
export { BUCKETS, Histogram } from './histogram.ts';
export { CallSeries, LOCALITIES, Locality, MAX_CALL_SERIES, MEMBERSHIP_EVENTS, MetricsRegistry, Outcome, OUTCOMES, RetryReason, RETRY_REASONS, type CountedInstance } from './registry.ts';
export type { HistogramSample, MetricFamily, Metrics, MetricSample } from './types.ts';
