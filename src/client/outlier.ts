/**
 * Passive health, as Envoy's outlier detection does it (docs/ARCHITECTURE.md, "A call"): an
 * instance whose calls fail several times in a row (5xx answers, connection failures, timeouts)
 * while it still answers its pings is taken out of this caller's rotation for a while, longer
 * each time it happens again, and put back when the time is up. At most half of a service's UP
 * instances are ejected at once, and the table never leaves a service with none to call.
 */
import type { Instance, MembershipTable, ServiceEntry } from '../discovery/index.ts';
import { after, type Timer } from '../runtime/index.ts';
import { loadOf } from './balancer.ts';

/** Outlier ejection settings (option `outlierDetection`). */
export interface OutlierSettings {
  /** Failures in a row that eject an instance. */
  consecutiveFailures: number;
  /** How long the first ejection lasts, in ms; the n-th lasts n times as long. */
  baseEjectionTime: number;
  /** The longest an ejection lasts, in ms. */
  maxEjectionTime: number;
}

/** Counts failures per instance and ejects and restores instances in the membership table. */
export class OutlierDetector {
  readonly #table: MembershipTable;
  readonly #settings: OutlierSettings;
  readonly #timers = new Map<Instance, Timer>();

  constructor(table: MembershipTable, settings: OutlierSettings) {
    this.#table = table;
    this.#settings = settings;
  }

  /** An answer below 500: the run of failures is over. */
  success(instance: Instance): void {
    const load = loadOf(instance);
    if (load.failures !== 0) load.failures = 0;
  }

  /** A 5xx answer, a connection failure or a timeout from `instance`. */
  failure(entry: ServiceEntry, instance: Instance): void {
    const load = loadOf(instance);
    if (++load.failures < this.#settings.consecutiveFailures || instance.ejectedUntil !== 0) return;
    let up = 0;
    let ejected = 0;
    for (const candidate of entry.instances) {
      if (candidate.status !== 'UP') continue;
      up++;
      if (candidate.ejectedUntil !== 0) ejected++;
    }
    if (ejected + 1 > Math.floor(up / 2)) return; // never more than half; a lone instance never
    load.failures = 0;
    load.ejections++;
    const duration = Math.min(this.#settings.maxEjectionTime, this.#settings.baseEjectionTime * load.ejections);
    this.#table.eject(instance, Date.now() + duration);
    this.#timers.get(instance)?.stop();
    this.#timers.set(
      instance,
      after(duration, () => {
        this.#timers.delete(instance);
        this.#table.restore(instance);
      }),
    );
  }

  /** Stops every restore timer (the plugin is closing). */
  close(): void {
    for (const timer of this.#timers.values()) timer.stop();
    this.#timers.clear();
  }
}
