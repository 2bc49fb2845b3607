import { Histogram } from './histogram.ts';
import type { Metrics } from './types.ts';

/** What is counted per event and group: the order of a row. */
export const EVENT_COUNTS = ['emitted', 'delivered', 'failed', 'retried', 'dead_lettered', 'claimed'] as const;

/** One of {@link EVENT_COUNTS}. */
export type EventCount = (typeof EVENT_COUNTS)[number];

/** Series past this share the `event=""` row: event names are the application's own input. */
const MAX_EVENT_SERIES = 1000;

interface EventRow {
  readonly event: string;
  readonly group: string;
  readonly counts: Float64Array;
  readonly duration: Histogram;
}

/**
 * The events' figures (docs/events.md, "Metrics"): counts by event and group, handler durations,
 * and for a durable transport each group's backlog as last read.
 */
export class EventMetrics {
  readonly #rows = new Map<string, EventRow>();
  #backlog: { event: string; group: string; pending: number; lag: number }[] = [];

  /** Adds one to `count` for `event` in `group` (`''` for an emit's own count or a broadcast). */
  count(count: EventCount, event: string, group = ''): void {
    const row = this.#row(event, group);
    row.counts[EVENT_COUNTS.indexOf(count)] = (row.counts[EVENT_COUNTS.indexOf(count)] as number) + 1;
  }

  /** Records one handler run of `seconds`. */
  handled(event: string, group: string, seconds: number): void {
    this.#row(event, group).duration.observe(seconds);
  }

  /** The durable groups' backlog, as last read from the engine. */
  set backlog(rows: { event: string; group: string; pending: number; lag: number }[]) {
    // While Redis is away (or cannot tell a lag) a figure is NaN: left out rather than exported.
    this.#backlog = rows.map((row) => ({ ...row, pending: Number.isFinite(row.pending) ? row.pending : -1, lag: Number.isFinite(row.lag) ? row.lag : -1 }));
  }

  #row(event: string, group: string): EventRow {
    const key = `${event}\n${group}`;
    let row = this.#rows.get(key);
    if (row) return row;
    if (this.#rows.size >= MAX_EVENT_SERIES) return this.#row('', '');
    row = { event, group, counts: new Float64Array(EVENT_COUNTS.length), duration: new Histogram() };
    this.#rows.set(key, row);
    return row;
  }

  /** The event families, empty until an event was emitted or subscribed to. */
  families(): Metrics {
    if (this.#rows.size === 0 && this.#backlog.length === 0) return {};
    const counts = [];
    const durations = [];
    for (const row of this.#rows.values()) {
      for (let index = 0; index < EVENT_COUNTS.length; index++) {
        const value = row.counts[index] as number;
        if (value > 0) counts.push({ labels: { event: row.event, group: row.group, outcome: EVENT_COUNTS[index] as string }, value });
      }
      if (row.duration.sample({}).count > 0) durations.push(row.duration.sample({ event: row.event, group: row.group }));
    }
    return {
      express_micro_events_total: {
        type: 'counter',
        help: 'Events by name, group and outcome: emitted (here), delivered (handed to a handler here), failed, retried, dead_lettered, claimed (from a stopped consumer).',
        samples: counts,
      },
      express_micro_event_handler_duration_seconds: { type: 'histogram', help: 'Runs of event handlers on this instance, in seconds.', samples: durations },
      express_micro_event_backlog: {
        type: 'gauge',
        help: "A durable group's entries by state: pending (delivered, not acknowledged) and lag (not delivered yet), as last read.",
        samples: this.#backlog.flatMap((row) => [
          ...(row.pending < 0 ? [] : [{ labels: { event: row.event, group: row.group, state: 'pending' }, value: row.pending }]),
          ...(row.lag < 0 ? [] : [{ labels: { event: row.event, group: row.group, state: 'lag' }, value: row.lag }]),
        ]),
      },
    };
  }
}
