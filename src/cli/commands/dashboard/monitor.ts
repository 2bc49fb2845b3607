/**
 * The dashboard's poll loop: every interval it reads the cluster (cluster-view.ts), notes what
 * changed in the timeline, reads every UP instance's call metrics, and publishes one
 * {@link Snapshot} to whoever listens (the page's event streams).
 */
import { diffViews, readClusterView, type ClusterView } from '../../cluster-view.ts';
import type { PeerClient } from '../../peer.ts';
import { addIncrease, readCounters, type InstanceCounters, type ServiceDelta } from './counters.ts';
import { RateWindow } from './rates.ts';
import { TIMELINE_LENGTH, type ServiceSnapshot, type Snapshot, type TimelineEntry } from './snapshot.ts';

const METRICS_PATH = '/_discovery/metrics';

/** How the monitor polls. */
export interface MonitorOptions {
  readonly peers: readonly string[];
  /** Between two polls, ms. */
  readonly interval: number;
  /** The span rates and percentiles are computed over, ms. */
  readonly windowMs: number;
}

/** An instance's counters as last read, and when. */
interface LastRead {
  readonly counters: InstanceCounters;
  readonly at: number;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Polls the cluster and keeps the latest {@link Snapshot}. */
export class Monitor {
  readonly #client: PeerClient;
  readonly #options: MonitorOptions;
  readonly #window: RateWindow;
  readonly #lastRead = new Map<string, LastRead>();
  readonly #listeners = new Set<(snapshot: Snapshot) => void>();
  #view: ClusterView | undefined;
  #timeline: TimelineEntry[] = [];
  #snapshot: Snapshot;

  constructor(client: PeerClient, options: MonitorOptions) {
    this.#client = client;
    this.#options = options;
    this.#window = new RateWindow(options.windowMs);
    this.#snapshot = { at: Date.now(), interval: options.interval, windowSeconds: 0, peers: options.peers, unreachable: [], problem: null, metricsSources: 0, services: [], timeline: [] };
  }

  /** The latest snapshot. */
  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  /** Calls `listener` with every new snapshot; returns what stops it. */
  subscribe(listener: (snapshot: Snapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * One poll. A peer that refuses the secret makes the whole read fail: the error is shown in the
   * snapshot's `problem`, and rethrown when `strict` (the first poll, so a wrong secret ends the
   * command with one line instead of serving an empty page).
   */
  async poll(strict = false): Promise<Snapshot> {
    let view: ClusterView;
    try {
      view = await readClusterView(this.#client, this.#options.peers);
    } catch (error) {
      if (strict) throw error;
      return this.#publish({ ...this.#snapshot, at: Date.now(), problem: message(error) });
    }
    if (this.#view !== undefined) this.#record(diffViews(this.#view, view).map((change) => ({ kind: change.kind, service: change.row.service, url: change.row.url, at: change.at })));
    if (view.reached.length > 0 || this.#view === undefined) this.#view = view;
    const sources = await this.#readMetrics(this.#view);
    return this.#publish(this.#build(this.#view, view, sources));
  }

  #record(entries: TimelineEntry[]): void {
    if (entries.length === 0) return;
    this.#timeline = [...entries.reverse(), ...this.#timeline].slice(0, TIMELINE_LENGTH);
  }

  /** Reads every UP instance's metrics at once; returns how many answered. */
  async #readMetrics(view: ClusterView): Promise<number> {
    const up = view.rows.filter((row) => row.status === 'UP');
    const timeout = Math.max(250, Math.min(2000, this.#options.interval));
    const answers = await Promise.allSettled(up.map((row) => this.#client.getJson(row.url, METRICS_PATH, timeout)));
    const at = Date.now();
    const deltas = new Map<string, ServiceDelta>();
    let sources = 0;
    let from = at;
    for (const [index, answer] of answers.entries()) {
      // A failed read (a peer without metrics answers 404, a dying one times out) is skipped.
      if (answer.status !== 'fulfilled') continue;
      sources++;
      const row = up[index];
      if (row === undefined) continue;
      const counters = readCounters(answer.value);
      const last = this.#lastRead.get(row.id);
      if (last !== undefined) {
        addIncrease(deltas, last.counters, counters);
        from = Math.min(from, last.at);
      }
      this.#lastRead.set(row.id, { counters, at });
    }
    // Instances that left the view are forgotten, or the map would grow with every restart.
    const known = new Set(view.rows.map((row) => row.id));
    for (const id of this.#lastRead.keys()) if (!known.has(id)) this.#lastRead.delete(id);
    if (from < at) this.#window.add(from, at, deltas);
    return sources;
  }

  #build(view: ClusterView, latest: ClusterView, sources: number): Snapshot {
    const names = new Set([...view.rows.map((row) => row.service), ...this.#window.services()]);
    const services: ServiceSnapshot[] = [...names]
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((name) => ({ name, instances: view.rows.filter((row) => row.service === name), rates: sources === 0 ? null : this.#window.rates(name) }));
    return {
      at: latest.at,
      interval: this.#options.interval,
      windowSeconds: Math.round(this.#window.seconds() * 10) / 10,
      peers: this.#options.peers,
      unreachable: latest.unreachable,
      problem: null,
      metricsSources: sources,
      services,
      timeline: this.#timeline,
    };
  }

  #publish(snapshot: Snapshot): Snapshot {
    this.#snapshot = snapshot;
    for (const listener of this.#listeners) listener(snapshot);
    return snapshot;
  }
}
