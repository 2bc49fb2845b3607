import type { Metrics } from './types.ts';

/*
 * The Prometheus text format (version 0.0.4), written here rather than with prom-client: that
 * library is built around Node (its default metrics read process and event-loop internals, it
 * keeps a global registry, and it brings dependencies of its own), while express-micro runs
 * unchanged on Node, Bun and Deno. What we write is eight families of known shape, and the
 * format's rules for them fit in this file (test/behaviour/metrics.test.ts checks them with a
 * strict parser, test/support/prometheus.ts).
 */

/** The content type of {@link writeExposition}'s text. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A number as Prometheus reads it: `NaN`, `+Inf`, `-Inf`, or JavaScript's own spelling. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (character) => (character === '\n' ? '\\n' : `\\${character}`));
}

function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (character) => (character === '\n' ? '\\n' : '\\\\'));
}

function labelText(labels: Record<string, string>, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return '';
  return `{${pairs
    .map(([name, value]) => {
      if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`express-micro: "${name}" is not a Prometheus label name`);
      return `${name}="${escapeLabelValue(value)}"`;
    })
    .join(',')}}`;
}

/**
 * Writes `metrics` in the Prometheus text format: HELP and TYPE once per family, before its
 * samples (also for a family with none yet); histograms as cumulative `_bucket` lines ending
 * with `le="+Inf"` equal to `_count`, then `_sum` and `_count`; a trailing newline.
 */
export function writeExposition(metrics: Metrics): string {
  const lines: string[] = [];
  for (const [name, family] of Object.entries(metrics)) {
    if (!METRIC_NAME.test(name)) throw new Error(`express-micro: "${name}" is not a Prometheus metric name`);
    lines.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`);
    if (family.type === 'histogram') {
      for (const sample of family.samples) {
        for (const bucket of sample.buckets) lines.push(`${name}_bucket${labelText(sample.labels, ['le', formatNumber(bucket.le)])} ${formatNumber(bucket.count)}`);
        lines.push(`${name}_bucket${labelText(sample.labels, ['le', '+Inf'])} ${formatNumber(sample.count)}`);
        lines.push(`${name}_sum${labelText(sample.labels)} ${formatNumber(sample.sum)}`);
        lines.push(`${name}_count${labelText(sample.labels)} ${formatNumber(sample.count)}`);
      }
    } else {
      for (const sample of family.samples) lines.push(`${name}${labelText(sample.labels)} ${formatNumber(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
