/**
 * `micro.metrics()`: every family keyed by its name, e.g. `metrics.express_micro_calls_total`.
 * The same figures `GET /_discovery/metrics` answers in the Prometheus text format.
 */
export type Metrics = Record<string, MetricFamily>;

/** One metric family: its type, its help text and one sample per label set. */
export type MetricFamily =
  | { type: 'counter' | 'gauge'; help: string; samples: MetricSample[] }
  | { type: 'histogram'; help: string; samples: HistogramSample[] };

/** One counter or gauge value with its labels. */
export interface MetricSample {
  labels: Record<string, string>;
  value: number;
}

/** buckets: cumulative counts for the finite upper bounds, ascending; `count` is the +Inf bucket. */
export interface HistogramSample {
  labels: Record<string, string>;
  count: number;
  sum: number;
  buckets: { le: number; count: number }[];
}
