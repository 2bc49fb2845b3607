/**
 * A {@link ClusterView} as text: the instance table `status` prints and `watch` redraws, and
 * the one line `watch` prints per change. EVENTS (each instance's subscriptions, when any
 * instance has one) sits after ROUTES; ZONE and LABELS stay last. Colour (ANSI) only when asked, i.e. on a terminal.
 */
import { readEnv } from '../runtime/index.ts';
import type { ClusterChange, ClusterView, InstanceEvent, InstanceRow, InstanceState } from './cluster-view.ts';

const HEADERS = ['SERVICE', 'INSTANCE', 'ID', 'STATUS', 'LAST SEEN', 'ROUND TRIP', 'ROUTES', 'EVENTS', 'ZONE', 'LABELS'] as const;
/** The ROUTES column: a number, right-aligned. */
const ROUTES_COLUMN = 6;
/** A LABELS cell longer than this is cut (with `…`): the table stays narrow; `--json` has them all. */
const LABELS_WIDTH = 40;
/** An EVENTS cell longer than this shows the names that fit and how many more (`--json` has them all). */
const EVENTS_WIDTH = 40;

const COLOURS: Readonly<Record<InstanceState, string>> = { UP: '\x1b[32m', SUSPECT: '\x1b[33m', DOWN: '\x1b[31m' };
const RESET = '\x1b[0m';

/** Colour on a terminal, unless NO_COLOR is set (https://no-color.org). */
export function useColour(isTerminal: boolean | undefined): boolean {
  return isTerminal === true && (readEnv('NO_COLOR') ?? '') === '';
}

/** How long ago `then` was, from `now`: `now`, `0.4 s ago`, `12 s ago`, `3 min ago`, `-` unknown. */
export function ago(then: number | null, now: number): string {
  if (then === null) return '-';
  const elapsed = Math.max(0, now - then);
  if (elapsed < 50) return 'now';
  if (elapsed < 10_000) return `${(elapsed / 1000).toFixed(1)} s ago`;
  if (elapsed < 120_000) return `${Math.round(elapsed / 1000)} s ago`;
  return `${Math.round(elapsed / 60_000)} min ago`;
}

/** A probe's round trip: `0.84 ms`, `12 ms`, `-` unknown. */
export function roundTrip(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
}

/**
 * An instance's labels as one compact cell: `version=2,track=canary` (`version` first, then in
 * the order given), `-` when none, cut at {@link LABELS_WIDTH} characters.
 */
export function labelsCell(metadata: Readonly<Record<string, string>>): string {
  const keys = Object.keys(metadata);
  if (keys.length === 0) return '-';
  const ordered = metadata.version === undefined ? keys : ['version', ...keys.filter((key) => key !== 'version')];
  const cell = ordered.map((key) => `${key}=${metadata[key]}`).join(',');
  return cell.length > LABELS_WIDTH ? `${cell.slice(0, LABELS_WIDTH - 1)}…` : cell;
}

/**
 * An instance's subscriptions as one compact cell: the event names, sorted, each once (whatever
 * its groups: `--json` and the dashboard show those), `-` when none. Past {@link EVENTS_WIDTH}
 * characters, the names that fit and `+N more`: `cache.flush,order.created,+3 more`.
 */
export function eventsCell(events: readonly InstanceEvent[] | undefined): string {
  const names = [...new Set((events ?? []).map((item) => item.event))];
  if (names.length === 0) return '-';
  const whole = names.join(',');
  if (whole.length <= EVENTS_WIDTH) return whole;
  const shown: string[] = [];
  for (const name of names) {
    const more = names.length - shown.length - 1;
    const candidate = [...shown, name, ...(more > 0 ? [`+${more} more`] : [])].join(',');
    if (candidate.length > EVENTS_WIDTH) break;
    shown.push(name);
  }
  const more = names.length - shown.length;
  if (shown.length > 0) return [...shown, `+${more} more`].join(',');
  // Not even the first name fits beside the count: cut it.
  const suffix = names.length > 1 ? `,+${names.length - 1} more` : '';
  return `${(names[0] as string).slice(0, EVENTS_WIDTH - suffix.length - 1)}…${suffix}`;
}

/** The STATUS cell: the state, and `, ejected` when a caller took the instance out of its rotation. */
function statusOf(row: InstanceRow): string {
  return row.ejected ? `${row.status}, ejected` : row.status;
}

/**
 * The table, one line per instance under a header (ID `-` for a peer too old to publish its own), columns padded to their widest cell, then a
 * summary line (`2 services, 3 instances: 2 UP, 1 DOWN`). The EVENTS column is there when any
 * instance subscribes to an event (`-` on the others).
 */
export function renderTable(view: ClusterView, colour = false): string {
  // EVENTS only when an instance subscribes to one: a cluster without events prints as before.
  const withEvents = view.rows.some((row) => eventsCell(row.events) !== '-');
  const headers = withEvents ? HEADERS : HEADERS.filter((header) => header !== 'EVENTS');
  const cells = view.rows.map((row) => [
    row.service,
    row.url,
    row.id === row.url ? '-' : row.id,
    statusOf(row),
    ago(row.lastSeen, view.at),
    roundTrip(row.roundTripMs),
    String(row.routes),
    ...(withEvents ? [eventsCell(row.events)] : []),
    row.zone ?? '-',
    labelsCell(row.metadata),
  ]);
  const widths = headers.map((header, column) => Math.max(header.length, ...cells.map((line) => (line[column] as string).length)));
  const format = (line: readonly string[], row?: InstanceRow): string =>
    line
      .map((cell, column) => {
        // ROUTES is a number: right-aligned. The last column is not padded (no trailing spaces).
        const width = widths[column] as number;
        const padded = column === ROUTES_COLUMN ? cell.padStart(width) : column === line.length - 1 ? cell : cell.padEnd(width);
        return colour && row !== undefined && column === 3 ? `${COLOURS[row.status]}${padded}${RESET}` : padded;
      })
      .join('  ');
  const lines = [format(headers), ...cells.map((line, index) => format(line, view.rows[index]))];
  return `${lines.join('\n')}\n${summary(view)}\n`;
}

/** `2 services, 3 instances: 2 UP, 1 DOWN` (states with no instance left out; ejections counted apart). */
export function summary(view: ClusterView): string {
  const services = new Set(view.rows.map((row) => row.service)).size;
  const counts: Record<InstanceState, number> = { UP: 0, SUSPECT: 0, DOWN: 0 };
  for (const row of view.rows) counts[row.status]++;
  const ejected = view.rows.filter((row) => row.ejected).length;
  const states = [
    counts.UP > 0 ? `${counts.UP} UP` : '',
    counts.SUSPECT > 0 ? `${counts.SUSPECT} suspected` : '',
    counts.DOWN > 0 ? `${counts.DOWN} DOWN` : '',
    ejected > 0 ? `${ejected} ejected` : '',
  ].filter((part) => part !== '');
  const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;
  return `${plural(services, 'service')}, ${plural(view.rows.length, 'instance')}: ${states.join(', ') || 'none'}`;
}

const LABELS: Readonly<Record<ClusterChange['kind'], string>> = {
  joined: 'joined',
  left: 'left',
  up: 'UP',
  down: 'DOWN',
  suspect: 'suspected',
  ejected: 'ejected',
  restored: 'restored',
  events: 'subscriptions',
};

/**
 * `2025-01-02T10:00:01.250Z  DOWN       order-service http://127.0.0.1:41231 (id 3f9a…, zone
 * eu-west-1a, version=2, events order.created)`: zone, labels and events only when the instance
 * has them (an `events` change always names them, `events -` when it has none left).
 */
export function renderChange(change: ClusterChange, colour = false): string {
  const { row } = change;
  const label = change.kind === 'joined' ? `joined (${row.status})` : LABELS[change.kind];
  const painted = colour && (change.kind === 'up' || change.kind === 'down' || change.kind === 'suspect') ? `${COLOURS[row.status]}${label.padEnd(14)}${RESET}` : label.padEnd(14);
  // Zone and labels tell which side of a deploy (or which zone) the instance is on.
  const zone = row.zone === null ? '' : `, zone ${row.zone}`;
  const labels = Object.keys(row.metadata).length === 0 ? '' : `, ${labelsCell(row.metadata)}`;
  const subscribed = eventsCell(row.events);
  const events = subscribed === '-' && change.kind !== 'events' ? '' : `, events ${subscribed}`;
  return `${new Date(change.at).toISOString()}  ${painted}  ${row.service} ${row.url} (id ${row.id}${zone}${labels}${events})`;
}
