/** What the dashboard's page is sent: the whole picture at one moment, as JSON (`/events`). */
import type { ClusterChange, InstanceRow } from '../../cluster-view.ts';
import type { ServiceRates } from './rates.ts';

/** One service: its instances, and its callers' figures. */
export interface ServiceSnapshot {
  readonly name: string;
  /** Sorted by URL; empty for a service only known from its callers' metrics. */
  readonly instances: readonly InstanceRow[];
  /** `null` while no instance answers metrics, or before two polls have been compared. */
  readonly rates: ServiceRates | null;
}

/** One entry of the timeline. */
export interface TimelineEntry {
  readonly kind: ClusterChange['kind'];
  readonly service: string;
  readonly url: string;
  readonly at: number;
}

/** Everything the page shows. */
export interface Snapshot {
  /** When the cluster was read (ms since the epoch). */
  readonly at: number;
  /** The refresh interval, ms. */
  readonly interval: number;
  /** The span the rates cover, in seconds. */
  readonly windowSeconds: number;
  readonly peers: readonly string[];
  readonly unreachable: readonly { readonly origin: string; readonly reason: string }[];
  /** Why the last read failed as a whole (a refused secret), else `null`. */
  readonly problem: string | null;
  /** How many instances answered `/_discovery/metrics` in the last poll (0: "no metrics"). */
  readonly metricsSources: number;
  readonly services: readonly ServiceSnapshot[];
  /** Newest first, at most {@link TIMELINE_LENGTH}. */
  readonly timeline: readonly TimelineEntry[];
}

/** How many changes the timeline keeps. */
export const TIMELINE_LENGTH = 200;
