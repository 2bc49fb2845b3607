/**
 * What a cluster looks like from the outside: every instance of every service, read from the
 * `/_discovery/services` answers of one or more peers and merged into one list. `status`,
 * `watch` and `dashboard` all draw from it (docs/ARCHITECTURE.md, "Command line").
 *
 * Merging several peers' views: each instance is keyed by its id (by its URL when a peer too
 * old to publish its own id describes itself). An answer a peer gives about itself wins over
 * what others say of it: it just answered, so it is UP and seen now. Otherwise the view with the
 * highest incarnation wins (SWIM's rule: older news about a member loses), then the one that
 * heard from it most recently (`lastSeen`), then the worse state (DOWN over SUSPECT over UP), so
 * a member one peer still thinks UP and another has declared DOWN shows DOWN until someone hears
 * from it again. `ejected` is any view's: an outlier ejection is one caller's local verdict, and
 * worth showing whoever made it. The round trip is the winning view's, else any other's.
 */
import { isZone, NO_METADATA, parseMetadata } from '../discovery/metadata.ts';
import { isEventName, isGroupName, MAX_SUBSCRIPTIONS } from '../events/names.ts';
import { PeerUnreachableError, type PeerClient } from './peer.ts';
import { CliError } from './errors.ts';

/** How an instance is doing: UP, UP but suspected by the prober, or DOWN. */
export type InstanceState = 'UP' | 'SUSPECT' | 'DOWN';

/** One instance of one service, as the cluster (merged) sees it. */
export interface InstanceRow {
  /** Its service's name, as it registered. */
  service: string;
  /** The instance id (its URL when the peer describing itself publishes no id). */
  id: string;
  /** Where it listens. */
  url: string;
  status: InstanceState;
  /** A caller took it out of its rotation after failed calls (outlier ejection). */
  ejected: boolean;
  /** ms since the epoch, null when unknown */
  lastSeen: number | null;
  /** The last probe's round trip in ms, null when unknown (never probed, or an older peer). */
  roundTripMs: number | null;
  /** How many routes the service publishes. */
  routes: number;
  /** Its zone; null when it has none (or its peer is too old to say). */
  zone: string | null;
  /** Its labels (`version`, `track`, …); `{}` when it has none, or when they are malformed. */
  metadata: Readonly<Record<string, string>>;
  /**
   * The events it subscribes to, each with its group (`micro.subscribe`), sorted by event then
   * group; `[]` when none, or from a peer too old to publish them. Malformed entries are dropped.
   */
  events: readonly InstanceEvent[];
}

/** One subscription an instance publishes: an event name and the group it takes it in. */
export interface InstanceEvent {
  readonly event: string;
  readonly group: string;
}

/** The merged view of every peer asked, at one moment. */
export interface ClusterView {
  /** Every instance, sorted by service, then URL. */
  rows: InstanceRow[];
  /** The origins that answered. */
  reached: string[];
  /** The origins that did not answer, and why (one line each). */
  unreachable: { origin: string; reason: string }[];
  /** When the view was read (ms since the epoch). */
  at: number;
}

/** What changed for one instance between two views. */
export type ClusterChange = {
  /** `events`: the instance's subscriptions changed (one subscribed to, or stopped, an event). */
  kind: 'joined' | 'left' | 'up' | 'down' | 'suspect' | 'ejected' | 'restored' | 'events';
  /** The instance as it is now (as it was last, for `left`). */
  row: InstanceRow;
  /** When the later view was read. */
  at: number;
};

/** Where a peer lists what it knows of the cluster. */
export const SERVICES_PATH = '/_discovery/services';

/** A row with what the merge needs besides it. */
interface Candidate {
  readonly row: InstanceRow;
  /** Told by the instance itself. */
  readonly self: boolean;
  readonly incarnation: number;
}

const SEVERITY: Readonly<Record<InstanceState, number>> = { UP: 0, SUSPECT: 1, DOWN: 2 };

/** What the library accepts as a service name. */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Printable ASCII without spaces: ids and URLs end up on a terminal, where control bytes would act. */
const PRINTABLE = /^[\x21-\x7e]{1,300}$/;

function isUrl(value: unknown): value is string {
  return typeof value === 'string' && PRINTABLE.test(value) && /^https?:\/\//.test(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finiteOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Labels are printed too: the library's own check (no control characters) or none at all. */
function labelsOf(value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return NO_METADATA;
  const parsed = parseMetadata(value);
  return 'metadata' in parsed ? parsed.metadata : NO_METADATA;
}

function zoneOf(value: unknown): string | null {
  return isZone(value) ? value : null;
}

const NO_EVENTS: readonly InstanceEvent[] = Object.freeze([]);

/**
 * Subscriptions are printed too: only names the library itself accepts (no control characters,
 * nothing a terminal or a page would act on), deduplicated and sorted; none from an older peer.
 */
export function eventsOf(value: unknown): readonly InstanceEvent[] {
  if (!Array.isArray(value) || value.length === 0) return NO_EVENTS;
  const seen = new Set<string>();
  const events: InstanceEvent[] = [];
  for (const item of value.slice(0, MAX_SUBSCRIPTIONS)) {
    if (!isRecord(item) || !isEventName(item.event) || !isGroupName(item.group)) continue;
    const key = `${item.event}\n${item.group}`;
    if (seen.has(key)) continue;
    seen.add(key);
    events.push({ event: item.event, group: item.group });
  }
  return events.sort((a, b) => (a.event === b.event ? compareText(a.group, b.group) : compareText(a.event, b.event)));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether two (sorted) subscription lists are the same (rows built by hand may have none). */
function sameEvents(a: readonly InstanceEvent[] | undefined = NO_EVENTS, b: readonly InstanceEvent[] | undefined = NO_EVENTS): boolean {
  return a.length === b.length && a.every((item, index) => item.event === b[index]?.event && item.group === b[index]?.group);
}

function routeCount(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

/**
 * The instances one answer describes. Anything malformed is skipped, not trusted: names, ids and
 * URLs are printed, so one carrying control characters (a terminal escape) is dropped.
 */
function candidatesOf(origin: string, value: unknown, at: number): Candidate[] {
  if (!isRecord(value) || !isRecord(value.thisService) || !isRecord(value.connectedPeers)) {
    throw new CliError(`${origin}${SERVICES_PATH} did not answer with an express-micro services list`);
  }
  const candidates: Candidate[] = [];
  const self = value.thisService;
  if (typeof self.name === 'string' && SERVICE_NAME.test(self.name) && isUrl(self.url)) {
    const id = typeof self.id === 'string' && PRINTABLE.test(self.id) ? self.id : self.url;
    candidates.push({
      row: { service: self.name, id, url: self.url, status: 'UP', ejected: false, lastSeen: at, roundTripMs: null, routes: routeCount(self.routes), zone: zoneOf(self.zone), metadata: labelsOf(self.metadata), events: eventsOf(self.events) },
      self: true,
      incarnation: Number.POSITIVE_INFINITY,
    });
  }
  for (const [service, peer] of Object.entries(value.connectedPeers)) {
    if (!SERVICE_NAME.test(service) || !isRecord(peer) || !Array.isArray(peer.instances)) continue;
    const routes = routeCount(peer.routes);
    for (const instance of peer.instances) {
      if (!isRecord(instance) || !isUrl(instance.url)) continue;
      const id = typeof instance.id === 'string' && PRINTABLE.test(instance.id) ? instance.id : instance.url;
      const status: InstanceState = instance.status === 'DOWN' ? 'DOWN' : instance.suspect === true ? 'SUSPECT' : 'UP';
      candidates.push({
        row: {
          service,
          id,
          url: instance.url,
          status,
          ejected: instance.ejected === true,
          lastSeen: finiteOrNull(instance.lastSeen),
          roundTripMs: finiteOrNull(instance.roundTripMs),
          routes,
          zone: zoneOf(instance.zone),
          metadata: labelsOf(instance.metadata),
          events: eventsOf(instance.events),
        },
        self: false,
        incarnation: finiteOrNull(instance.incarnation) ?? 0,
      });
    }
  }
  return candidates;
}

/** Whether `a` is better news than `b` about the same instance (the rule in the file's comment). */
function wins(a: Candidate, b: Candidate): boolean {
  if (a.self !== b.self) return a.self;
  if (a.incarnation !== b.incarnation) return a.incarnation > b.incarnation;
  const seenA = a.row.lastSeen ?? -1;
  const seenB = b.row.lastSeen ?? -1;
  if (seenA !== seenB) return seenA > seenB;
  return SEVERITY[a.row.status] > SEVERITY[b.row.status];
}

/** One row per instance from every peer's candidates (the rule in the file's comment). */
function merge(candidates: readonly Candidate[]): InstanceRow[] {
  // A peer describing itself without an id is keyed by URL; others name it by id. Map such URLs
  // to the id the others use, so the two descriptions meet.
  const idByUrl = new Map<string, string>();
  for (const { row, self } of candidates) if (!self || row.id !== row.url) idByUrl.set(`${row.service}\n${row.url}`, row.id);
  const merged = new Map<string, { best: Candidate; ejected: boolean; roundTripMs: number | null }>();
  for (const candidate of candidates) {
    const { row } = candidate;
    const id = row.id === row.url ? (idByUrl.get(`${row.service}\n${row.url}`) ?? row.id) : row.id;
    const key = `${row.service}\n${id}`;
    const entry = merged.get(key);
    const named = id === row.id ? candidate : { ...candidate, row: { ...row, id } };
    if (entry === undefined) {
      merged.set(key, { best: named, ejected: row.ejected, roundTripMs: row.roundTripMs });
      continue;
    }
    if (wins(named, entry.best)) entry.best = named;
    entry.ejected ||= row.ejected;
    entry.roundTripMs ??= row.roundTripMs;
  }
  const rows: InstanceRow[] = [];
  for (const { best, ejected, roundTripMs } of merged.values()) {
    rows.push({ ...best.row, ejected, roundTripMs: best.row.roundTripMs ?? roundTripMs });
  }
  return rows.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
}

/** What one peer answered to `GET /_discovery/services`, not yet checked. */
export interface ServicesAnswer {
  readonly origin: string;
  readonly body: unknown;
}

/**
 * The merged view of answers already fetched (what {@link readClusterView} does after its
 * requests; `call` uses it on the answers it also reads routes from). A malformed answer throws
 * a {@link CliError}.
 */
export function clusterViewOf(answers: readonly ServicesAnswer[], unreachable: readonly { origin: string; reason: string }[], at: number): ClusterView {
  const candidates: Candidate[] = [];
  for (const { origin, body } of answers) candidates.push(...candidatesOf(origin, body, at));
  return { rows: merge(candidates), reached: answers.map((answer) => answer.origin), unreachable: [...unreachable], at };
}

/**
 * `GET /_discovery/services` on every origin at once: the answers, and the origins nothing
 * answered at. A refusal (401/403) or an answer that is not JSON throws its {@link CliError}.
 */
export async function fetchServices(client: PeerClient, origins: readonly string[]): Promise<{ answers: ServicesAnswer[]; unreachable: { origin: string; reason: string }[] }> {
  const settled = await Promise.allSettled(origins.map((origin) => client.getJson(origin, SERVICES_PATH)));
  const answers: ServicesAnswer[] = [];
  const unreachable: { origin: string; reason: string }[] = [];
  for (const [index, answer] of settled.entries()) {
    const origin = origins[index] as string;
    if (answer.status === 'fulfilled') answers.push({ origin, body: answer.value });
    else if (answer.reason instanceof PeerUnreachableError) unreachable.push({ origin, reason: answer.reason.message });
    else throw answer.reason;
  }
  return { answers, unreachable };
}

/** Reads /_discovery/services from every origin; a peer that cannot be reached is listed in `unreachable`; a refusal (401/403) throws CliError. */
export async function readClusterView(client: PeerClient, origins: readonly string[]): Promise<ClusterView> {
  const at = Date.now();
  const { answers, unreachable } = await fetchServices(client, origins);
  return clusterViewOf(answers, unreachable, at);
}

function rowKey(row: InstanceRow): string {
  return `${row.service}\n${row.id}`;
}

/**
 * What changed from `before` to `after`, one entry per change, in `after`'s row order (then the
 * rows that left): `joined`/`left` for rows that appeared or went, `up`/`down`/`suspect` when the
 * state moved, `ejected`/`restored` when the ejection flag did, `events` when its subscriptions did. When `after` reached no peer at all
 * there is nothing to compare (no news is not news of everyone leaving): the answer is empty.
 */
export function diffViews(before: ClusterView, after: ClusterView): ClusterChange[] {
  if (after.reached.length === 0) return [];
  const previous = new Map(before.rows.map((row) => [rowKey(row), row]));
  const changes: ClusterChange[] = [];
  const at = after.at;
  for (const row of after.rows) {
    const key = rowKey(row);
    const old = previous.get(key);
    previous.delete(key);
    if (old === undefined) {
      changes.push({ kind: 'joined', row, at });
      continue;
    }
    if (old.status !== row.status) changes.push({ kind: row.status === 'UP' ? 'up' : row.status === 'DOWN' ? 'down' : 'suspect', row, at });
    if (old.ejected !== row.ejected) changes.push({ kind: row.ejected ? 'ejected' : 'restored', row, at });
    if (!sameEvents(old.events, row.events)) changes.push({ kind: 'events', row, at });
  }
  for (const row of previous.values()) changes.push({ kind: 'left', row, at });
  return changes;
}
