/**
 * Which instance a call goes to (docs/ARCHITECTURE.md, "A call"). The default is Finagle's and
 * Linkerd's "P2C + peak EWMA": two instances drawn at random, the one with the lower cost wins,
 * where cost = latency × (requests outstanding + 1). A slow instance's latency and its pile of
 * outstanding calls both raise its cost, so it gets a small share instead of a third; drawing two
 * (not scanning all) keeps a pick O(1) and spreads load when many callers agree.
 *
 * Three changes to the textbook form keep a slow instance at a fraction of a percent of the calls
 * when there are only a few instances (with three, the slow one is in two pairs of three, and
 * wins every pair where its partner looks dearer), measured in scripts/bench-tail.mjs:
 * - the latency is kept per request in flight (round trip ÷ requests outstanding when it was
 *   sent), so a fast instance busy with many calls is not charged for its queue twice;
 * - the estimate ages by the service's answers, not by time (FADE_ANSWERS): a fast instance's
 *   one pause is forgotten after a few dozen answers, not after seconds;
 * - an instance with no recent answer gets one probe call, whose answer replaces its estimate
 *   (STALE_ANSWERS): a slow instance gets about one call in 256 × instances, and one that is
 *   fast again is back within as many.
 * Everything is updated in place on the instance's {@link Load}: no allocation and no scan per call.
 */
import type { Instance, ServiceEntry } from '../discovery/index.ts';
import type { LatencyEstimate } from './latency.ts';
import type { Pool } from './pools.ts';

/** How a service's calls are spread over its instances. */
export type BalancerName = 'p2c' | 'round-robin';

/** What one caller knows about one instance's load; kept per instance, updated in place. */
export class Load {
  /** Requests sent and not yet answered. */
  outstanding = 0;
  /**
   * EWMA of the latency per request in flight, in ms: each answer's round trip divided by the
   * requests this caller had outstanding on the instance when it was sent (itself included).
   * 0 until the first answer.
   */
  cost = 0;
  /** The slowest recent answer per request in flight, in ms; it fades as the service answers (see FADE_ANSWERS). */
  peak = 0;
  /** The service's answer count ({@link LatencyEstimate.answers}) when `peak` was set. */
  peakAt = 0;
  /** When `cost` was last updated (ms since the epoch). */
  stamp = 0;
  /** When this caller last got an answer from it (ms since the epoch); 0 before the first. */
  answeredAt = 0;
  /** The service's answer count when `cost` was last updated. */
  seen = 0;
  /** Failures in a row (5xx, connection failures, timeouts), for outlier ejection. */
  failures = 0;
  /** How many times the instance has been ejected, which lengthens the next ejection. */
  ejections = 0;
}

/** How fast an old latency is forgotten with time: Finagle's default decay time. */
const DECAY_MS = 10_000;
/** The least weight of one answer in the EWMA (RFC 6298's smoothed round trip uses the same). */
const ANSWER_WEIGHT = 1 / 8;
/**
 * The clock of the estimates is the service's answers, not time: the peak fades by e every
 * FADE_ANSWERS answers of the service per UP instance, and an answer that comes after n of them
 * weighs 1 − e^(−n / (FADE_ANSWERS × instances)) in the EWMA (at least ANSWER_WEIGHT). At
 * thousands of answers a second, Finagle's 10 s decay made the estimate the worst round trip of
 * the last seconds: one pause of a fast instance priced it like a slow one, which then got its
 * calls, for seconds; and a slow instance that is fast again, called rarely, took as long to
 * look fast. A slow answer still counts at once; an instance that stays slow keeps its EWMA up.
 */
const FADE_ANSWERS = 16;
/**
 * An estimate is stale when the service has had this many answers per UP instance since the
 * instance's last answer (or DECAY_MS has passed): the instance gets one probe call, priced at the
 * service's mean latency, and that answer replaces the estimate. A slow instance thus gets about
 * one call in 256 × instances (0.13% with three), and one that is fast again is back within as
 * many calls (a fraction of a second at thousands of calls a second).
 */
const STALE_ANSWERS = 256;
/** The cost of a stale or new instance with a call already out: after every priced instance. */
const PENALTY = 1e12;

const loads = new WeakMap<Instance, Load>();

/** The load record of `instance`, created on first use. */
export function loadOf(instance: Instance): Load {
  let load = loads.get(instance);
  if (!load) loads.set(instance, (load = new Load()));
  return load;
}

/** The instances the answer clocks are scaled by: the rotation, at least one (an answer can come after it emptied). */
function instances(entry: ServiceEntry): number {
  return entry.up.length || 1;
}

/** Whether `load`'s estimate is too old to price the instance (see STALE_ANSWERS). */
function stale(load: Load, entry: ServiceEntry, estimate: LatencyEstimate, now: number): boolean {
  return load.stamp === 0 || estimate.answers() - load.seen > STALE_ANSWERS * instances(entry) || now - load.stamp > DECAY_MS;
}

/** The peak as it stands after the answers the service has had since it was set. */
function fadedPeak(load: Load, entry: ServiceEntry, estimate: LatencyEstimate): number {
  return load.peak * Math.exp(-(estimate.answers() - load.peakAt) / (FADE_ANSWERS * instances(entry)));
}

/**
 * Adds one answer: `ms` its round trip, `depth` the requests outstanding on the instance when it
 * was sent (itself included). The latency per request enters the EWMA, with more weight the
 * longer the instance went unanswered (see FADE_ANSWERS), replacing a stale estimate; and becomes
 * the peak when slower than the faded peak.
 */
export function observe(load: Load, entry: ServiceEntry, estimate: LatencyEstimate, ms: number, depth: number, now: number): void {
  const perRequest = ms / depth;
  if (stale(load, entry, estimate, now)) {
    load.cost = perRequest;
    load.peak = 0;
  } else {
    const weight = 1 - Math.exp(-(estimate.answers() - load.seen) / (FADE_ANSWERS * instances(entry)));
    load.cost += (perRequest - load.cost) * (weight > ANSWER_WEIGHT ? weight : ANSWER_WEIGHT);
  }
  atLeast(load, entry, estimate, ms, depth);
  load.stamp = now;
  load.seen = estimate.answers();
}

/**
 * A request took at least `ms` with `depth` outstanding (one that was cancelled because the other
 * of a hedged pair answered first, or the answer of {@link observe}): the peak rises to it.
 */
export function atLeast(load: Load, entry: ServiceEntry, estimate: LatencyEstimate, ms: number, depth: number): void {
  const perRequest = ms / depth;
  if (perRequest > load.cost && perRequest >= fadedPeak(load, entry, estimate)) {
    load.peak = perRequest;
    load.peakAt = estimate.answers();
  }
}

/**
 * What sending one more call to `instance` is expected to cost: its latency per request (the
 * larger of the EWMA and the faded peak: Finagle's and Linkerd's peak EWMA) times its outstanding
 * calls plus one. The latency measured under load already holds the queue behind the calls in
 * flight, so it is kept per request (see {@link observe}) and multiplied back here: an instance
 * is compared at the load it would have, not charged twice for it. An instance with no recent
 * answer (new, or stale: see STALE_ANSWERS) is priced at the service's mean latency while it has
 * no call out, and after every priced instance once it has one (Finagle's penalty for a host with
 * no history): it gets one probe, never a burst while its latency is unknown.
 */
export function costOf(instance: Instance, entry: ServiceEntry, estimate: LatencyEstimate, now: number): number {
  return priceOf(loadOf(instance), entry, estimate, now);
}

function priceOf(load: Load, entry: ServiceEntry, estimate: LatencyEstimate, now: number): number {
  if (stale(load, entry, estimate, now)) return load.outstanding === 0 ? estimate.mean() : PENALTY + load.outstanding;
  const peak = load.peak === 0 ? 0 : fadedPeak(load, entry, estimate);
  return (peak > load.cost ? peak : load.cost) * (load.outstanding + 1);
}

/**
 * P2C: the cheaper of two distinct random instances of `pool`'s rotation (the UP instances that
 * serve the call), other than `avoid` when possible. Costs are scaled by `entry`, the service.
 */
export function pickTwoChoices(entry: ServiceEntry, pool: Pool, avoid: Instance | undefined, estimate: LatencyEstimate, now: number): Instance | undefined {
  const up = pool.up;
  const count = up.length;
  if (count <= 1) return up[0];
  if (count === 2) {
    const [first, second] = up as [Instance, Instance];
    if (first === avoid) return second;
    if (second === avoid) return first;
    return cheaper(first, second, entry, estimate, now);
  }
  const a = Math.floor(Math.random() * count);
  let b = Math.floor(Math.random() * (count - 1));
  if (b >= a) b++;
  if (up[a] === avoid || up[b] === avoid) {
    // A third index, neither a nor b (there are at least three), replaces the one to avoid.
    let c = (a + 1) % count;
    if (c === b) c = (c + 1) % count;
    if (up[a] === avoid) return cheaper(up[c] as Instance, up[b] as Instance, entry, estimate, now);
    return cheaper(up[a] as Instance, up[c] as Instance, entry, estimate, now);
  }
  return cheaper(up[a] as Instance, up[b] as Instance, entry, estimate, now);
}

/**
 * Two costs within this factor of each other are a tie when neither instance has a recent peak:
 * estimates per request in flight are noisy, and an instance that answers many calls at once
 * looks no dearer with more of them, so among instances about as fast the one with fewer calls
 * out wins (Envoy's least request), and with as many out, either. Without it the cheaper of two
 * equal instances would take every call it is drawn for, and the other's estimate (its first
 * answer, over a new connection) would not be refreshed until it is stale. A recent peak is a
 * fact, not noise: then the cost decides.
 */
const TIE = 1.5;

/** Whether `load` has no peak above its EWMA (it answered as usual lately). */
function settled(load: Load, entry: ServiceEntry, estimate: LatencyEstimate): boolean {
  return load.peak === 0 || fadedPeak(load, entry, estimate) <= load.cost;
}

function cheaper(first: Instance, second: Instance, entry: ServiceEntry, estimate: LatencyEstimate, now: number): Instance {
  const firstLoad = loadOf(first);
  const secondLoad = loadOf(second);
  const one = priceOf(firstLoad, entry, estimate, now);
  const other = priceOf(secondLoad, entry, estimate, now);
  if (one === other || (one < other * TIE && other < one * TIE && settled(firstLoad, entry, estimate) && settled(secondLoad, entry, estimate))) {
    if (firstLoad.outstanding !== secondLoad.outstanding) return firstLoad.outstanding < secondLoad.outstanding ? first : second;
    return Math.random() < 0.5 ? first : second;
  }
  return one < other ? first : second;
}

/** Round-robin over `pool`'s rotation, other than `avoid` when another exists. */
export function pickRoundRobin(pool: Pool, avoid: Instance | undefined): Instance | undefined {
  const up = pool.up;
  for (let tries = 0; tries < up.length; tries++) {
    const candidate = up[pool.cursor++ % up.length] as Instance;
    if (candidate !== avoid) return candidate;
  }
  return up[0];
}
