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
  /** The sample's labels, e.g. `{ service: 'user-service', call: 'getUser', outcome: 'ok' }`. */
  labels: Record<string, string>;
  /** The counter's total since this instance started, or the gauge's value now. */
  value: number;
}

/** One histogram with its labels, as Prometheus reads it: cumulative buckets, a sum and a count. */
export interface HistogramSample {
  /** The sample's labels, e.g. `{ service: 'user-service', call: 'getUser' }`. */
  labels: Record<string, string>;
  /** How many observations there were: the `+Inf` bucket. */
  count: number;
  /** The sum of every observation, in seconds. */
  sum: number;
  /** Cumulative counts for the finite upper bounds (`le`, seconds), ascending. */
  buckets: { le: number; count: number }[];
}
