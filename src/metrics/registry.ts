import { EventMetrics } from './events.ts';
import { Histogram } from './histogram.ts';
import type { HistogramSample, Metrics, MetricSample } from './types.ts';

/**
 * How a call ended, the `outcome` label of `express_micro_calls_total`, indexed by a small
 * integer so counting a call is one array increment (docs/ARCHITECTURE.md, "Metrics").
 */
export const OUTCOMES: readonly string[] = ['ok', 'client_error', 'server_error', 'timeout', 'connection_error', 'unavailable', 'aborted', 'invalid_arguments', 'error'];

/** Indexes into {@link OUTCOMES}. */
export const Outcome = {
  ok: 0,
  clientError: 1,
  serverError: 2,
  timeout: 3,
  connectionError: 4,
  unavailable: 5,
  aborted: 6,
  invalidArguments: 7,
  error: 8,
} as const;

/** Why a call sent another request, the `reason` label of `express_micro_retries_total`. */
export const RETRY_REASONS: readonly string[] = ['connection', 'timeout', 'status', 'reissue', 'hedge', 'misrouted'];

/** Indexes into {@link RETRY_REASONS}. */
export const RetryReason = { connection: 0, timeout: 1, status: 2, reissue: 3, hedge: 4, misrouted: 5 } as const;

/** The `locality` label of `express_micro_zone_requests_total`. */
export const LOCALITIES: readonly string[] = ['same_zone', 'cross_zone'];

/** Indexes into {@link LOCALITIES}. */
export const Locality = { same: 0, cross: 1 } as const;

/** The events counted in `express_micro_membership_changes_total`, the handle's events. */
export const MEMBERSHIP_EVENTS = ['up', 'down', 'suspect', 'discovered', 'removed', 'ejected', 'restored'] as const;

/** The most (service, call) series kept; calls past it are counted under `call=""` of their service. */
export const MAX_CALL_SERIES = 10_000;

/** The counters of one (service, call) pair, made when the call's route is resolved and kept. */
export class CallSeries {
  readonly service: string;
  readonly call: string;
  /** Calls by outcome, indexed by {@link Outcome}. */
  readonly outcomes: Float64Array = new Float64Array(OUTCOMES.length);
  /** Whole calls, retries included, in seconds. */
  readonly duration: Histogram = new Histogram();
  /** The service's retries by reason, indexed by {@link RetryReason}: shared by its calls. */
  readonly retries: Float64Array;
  /**
   * The service's requests from a caller with a `zone`, indexed by {@link Locality}: to an
   * instance of the caller's zone, or across zones. Shared by its calls.
   */
  readonly zones: Float64Array;

  constructor(service: string, call: string, retries: Float64Array, zones: Float64Array = new Float64Array(LOCALITIES.length)) {
    this.service = service;
    this.call = call;
    this.retries = retries;
    this.zones = zones;
  }

  /** Counts one finished call. */
  record(outcome: number, seconds: number): void {
    (this.outcomes[outcome] as number)++;
    this.duration.observe(seconds);
  }
}

/** An instance as the `express_micro_instances` gauge classifies it. */
export interface CountedInstance {
  readonly name: string;
  readonly status: 'UP' | 'DOWN';
  readonly suspect: boolean;
  readonly ejectedUntil: number;
}

/**
 * Every figure the plugin keeps. Calls count into series made ahead of time; the instances
 * gauge is computed from the membership table when read, so it costs calls nothing.
 */
export class MetricsRegistry {
  /** Direct probes of this instance that got an ack, in seconds. */
  readonly probes: Histogram = new Histogram();
  /** Events emitted, delivered and handled here (micro.emit, micro.subscribe). */
  readonly events: EventMetrics = new EventMetrics();
  /** Membership events seen, indexed like {@link MEMBERSHIP_EVENTS}. */
  readonly membership: Float64Array = new Float64Array(MEMBERSHIP_EVENTS.length);
  /** Requests accepted under a secret other than the first (one being rotated out). */
  #previousSecret = 0;
  /** When the last of them was accepted, ms since the epoch; 0 for never. */
  #previousSecretAt = 0;
  readonly #calls = new Map<string, Map<string, CallSeries>>();
  readonly #retries = new Map<string, Float64Array>();
  readonly #zones = new Map<string, Float64Array>();
  #series = 0;

  /**
   * The series of `call` on `service`, made on first use. Names come from the membership table
   * (validated, bounded) or from `$call`'s method and path, which are the caller's own input:
   * past {@link MAX_CALL_SERIES} series, new pairs share their service's `call=""` series.
   */
  callSeries(service: string, call: string): CallSeries {
    let calls = this.#calls.get(service);
    if (!calls) this.#calls.set(service, (calls = new Map()));
    let series = calls.get(call);
    if (series) return series;
    if (this.#series >= MAX_CALL_SERIES) call = '';
    series = calls.get(call);
    if (series) return series;
    let zones = this.#zones.get(service);
    if (!zones) this.#zones.set(service, (zones = new Float64Array(LOCALITIES.length)));
    series = new CallSeries(service, call, this.#retriesOf(service), zones);
    calls.set(call, series);
    this.#series++;
    return series;
  }

  /** Counts one request whose Bearer token or signature matched a secret other than the first. */
  acceptedUnderPreviousSecret(now: number = Date.now()): void {
    this.#previousSecret++;
    this.#previousSecretAt = now;
  }

  #retriesOf(service: string): Float64Array {
    let retries = this.#retries.get(service);
    if (!retries) this.#retries.set(service, (retries = new Float64Array(RETRY_REASONS.length)));
    return retries;
  }

  /** Every family, the instances gauge computed from `instances` now. */
  snapshot(instances: Iterable<CountedInstance>): Metrics {
    const calls: MetricSample[] = [];
    const durations: HistogramSample[] = [];
    for (const [service, byCall] of this.#calls) {
      for (const [call, series] of byCall) {
        OUTCOMES.forEach((outcome, index) => {
          const value = series.outcomes[index] as number;
          if (value > 0) calls.push({ labels: { service, call, outcome }, value });
        });
        durations.push(series.duration.sample({ service, call }));
      }
    }
    const retries: MetricSample[] = [];
    for (const [service, counts] of this.#retries) {
      RETRY_REASONS.forEach((reason, index) => retries.push({ labels: { service, reason }, value: counts[index] as number }));
    }
    const zones: MetricSample[] = [];
    for (const [service, counts] of this.#zones) {
      if (counts[0] === 0 && counts[1] === 0) continue;
      LOCALITIES.forEach((locality, index) => zones.push({ labels: { service, locality }, value: counts[index] as number }));
    }
    return {
      express_micro_calls_total: { type: 'counter', help: 'Calls made through the services proxy, by target service, call name and outcome.', samples: calls },
      express_micro_call_duration_seconds: { type: 'histogram', help: 'Duration of whole calls (every retry included), in seconds.', samples: durations },
      express_micro_retries_total: { type: 'counter', help: 'Requests a call sent after its first one, by target service and reason.', samples: retries },
      express_micro_zone_requests_total: {
        type: 'counter',
        help: "Requests sent by a caller with a zone, by target service and whether the instance was in the caller's zone.",
        samples: zones,
      },
      express_micro_instances: { type: 'gauge', help: "Instances in this member's table, by service and status.", samples: countInstances(instances) },
      express_micro_probe_duration_seconds: {
        type: 'histogram',
        help: "Round trips of this member's direct probes that got an acknowledgement, in seconds.",
        samples: [this.probes.sample({})],
      },
      express_micro_membership_changes_total: {
        type: 'counter',
        help: 'Membership events this member saw, by event.',
        samples: MEMBERSHIP_EVENTS.map((event, index) => ({ labels: { event }, value: this.membership[index] as number })),
      },
      // A rotation's last phase (dropping the old secret) is safe once these stop moving on every instance.
      express_micro_previous_secret_accepted_total: {
        type: 'counter',
        help: 'Requests this member accepted under a secret other than the first (the one it sends), discovery and requireSignature() alike.',
        samples: [{ labels: {}, value: this.#previousSecret }],
      },
      express_micro_previous_secret_last_accepted_timestamp_seconds: {
        type: 'gauge',
        help: 'When this member last accepted a request under a secret other than the first, in seconds since the epoch; 0 for never.',
        samples: [{ labels: {}, value: this.#previousSecretAt / 1000 }],
      },
      ...this.events.families(),
    };
  }
}

const STATUSES = ['up', 'suspect', 'down', 'ejected'] as const;

/** One status per instance: DOWN, else suspected, else ejected, else up. Every status of a known service is listed, zeros too. */
function countInstances(instances: Iterable<CountedInstance>): MetricSample[] {
  const counts = new Map<string, number[]>();
  for (const instance of instances) {
    let row = counts.get(instance.name);
    if (!row) counts.set(instance.name, (row = [0, 0, 0, 0]));
    const status = instance.status === 'DOWN' ? 2 : instance.suspect ? 1 : instance.ejectedUntil !== 0 ? 3 : 0;
    row[status] = (row[status] as number) + 1;
  }
  const samples: MetricSample[] = [];
  for (const service of [...counts.keys()].sort()) {
    const row = counts.get(service) as number[];
    STATUSES.forEach((status, index) => samples.push({ labels: { service, status }, value: row[index] as number }));
  }
  return samples;
}
