/**
 * A latency percentile from histogram buckets, as Prometheus' `histogram_quantile` computes it:
 * find the bucket the rank falls in and interpolate linearly between its bounds (README,
 * "Dashboard").
 */

/** One cumulative bucket: how many observations were at most `le`. */
export interface Bucket {
  readonly le: number;
  readonly count: number;
}

/**
 * The `q`-quantile (0 < q < 1) of the observations counted by `buckets` (cumulative, finite upper
 * bounds in ascending order) and `total` (the +Inf bucket). `null` when nothing was observed. A
 * rank past the last finite bound answers that bound (as Prometheus does: the histogram cannot say
 * more); the first bucket's lower bound is 0.
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[], total: number): number | null {
  if (!(total > 0) || !(q >= 0 && q <= 1)) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank && bucket.count > below) {
      return lower + ((bucket.le - lower) * (rank - below)) / (bucket.count - below);
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return buckets.length === 0 ? null : lower;
}
