/**
 * A {@link ClusterView} as text: the instance table `status` prints and `watch` redraws, and
 * the one line `watch` prints per change. Colour (ANSI) only when asked, i.e. on a terminal.
 */
import { readEnv } from '../runtime/index.ts';
import type { ClusterChange, ClusterView, InstanceRow, InstanceState } from './cluster-view.ts';

const HEADERS = ['SERVICE', 'INSTANCE', 'ID', 'STATUS', 'LAST SEEN', 'ROUND TRIP', 'ROUTES', 'ZONE', 'LABELS'] as const;
/** The ROUTES column: a number, right-aligned. */
const ROUTES_COLUMN = 6;
/** A LABELS cell longer than this is cut (with `…`): the table stays narrow; `--json` has them all. */
const LABELS_WIDTH = 40;

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

/** The STATUS cell: the state, and `, ejected` when a caller took the instance out of its rotation. */
function statusOf(row: InstanceRow): string {
  return row.ejected ? `${row.status}, ejected` : row.status;
}

/**
 * The table, one line per instance under a header (ID `-` for a peer too old to publish its own), columns padded to their widest cell, then a
 * summary line (`2 services, 3 instances: 2 UP, 1 DOWN`).
 */
export function renderTable(view: ClusterView, colour = false): string {
  const cells = view.rows.map((row) => [
    row.service,
    row.url,
    row.id === row.url ? '-' : row.id,
    statusOf(row),
    ago(row.lastSeen, view.at),
    roundTrip(row.roundTripMs),
    String(row.routes),
    row.zone ?? '-',
    labelsCell(row.metadata),
  ]);
  const widths = HEADERS.map((header, column) => Math.max(header.length, ...cells.map((line) => (line[column] as string).length)));
  const format = (line: readonly string[], row?: InstanceRow): string =>
    line
      .map((cell, column) => {
        // ROUTES is a number: right-aligned. The last column is not padded (no trailing spaces).
        const width = widths[column] as number;
        const padded = column === ROUTES_COLUMN ? cell.padStart(width) : column === line.length - 1 ? cell : cell.padEnd(width);
        return colour && row !== undefined && column === 3 ? `${COLOURS[row.status]}${padded}${RESET}` : padded;
      })
      .join('  ');
  const lines = [format(HEADERS), ...cells.map((line, index) => format(line, view.rows[index]))];
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
};

/**
 * `2025-01-02T10:00:01.250Z  DOWN       order-service http://127.0.0.1:41231 (id 3f9a…, zone
 * eu-west-1a, version=2)`: zone and labels only when the instance has them.
 */
export function renderChange(change: ClusterChange, colour = false): string {
  const { row } = change;
  const label = change.kind === 'joined' ? `joined (${row.status})` : LABELS[change.kind];
  const painted = colour && (change.kind === 'up' || change.kind === 'down' || change.kind === 'suspect') ? `${COLOURS[row.status]}${label.padEnd(14)}${RESET}` : label.padEnd(14);
  // Zone and labels tell which side of a deploy (or which zone) the instance is on.
  const zone = row.zone === null ? '' : `, zone ${row.zone}`;
  const labels = Object.keys(row.metadata).length === 0 ? '' : `, ${labelsCell(row.metadata)}`;
  return `${new Date(change.at).toISOString()}  ${painted}  ${row.service} ${row.url} (id ${row.id}${zone}${labels})`;
}
