/**
 * Which instance a call goes to (docs/ARCHITECTURE.md, "A call"). The default is Finagle's and
 * Linkerd's "P2C + peak EWMA": two instances drawn at random, the one with the lower cost wins,
 * where cost = peak-EWMA latency × (requests outstanding + 1). A slow instance's latency and its
 * pile of outstanding calls both raise its cost, so it gets a small share instead of a third;
 * drawing two (not scanning all) keeps a pick O(1) and spreads load when many callers agree.
 */
import type { Instance, ServiceEntry } from '../discovery/index.ts';

/** How a service's calls are spread over its instances. */
export type BalancerName = 'p2c' | 'round-robin';

/** What one caller knows about one instance's load; kept per instance, updated in place. */
export class Load {
  /** Requests sent and not yet answered. */
  outstanding = 0;
  /** Peak-EWMA latency in ms; 0 until the first answer. */
  cost = 0;
  /** When `cost` was last updated (ms since the epoch). */
  stamp = 0;
  /** When this caller last got an answer from it (ms since the epoch); 0 before the first. */
  answeredAt = 0;
  /** Failures in a row (5xx, connection failures, timeouts), for outlier ejection. */
  failures = 0;
  /** How many times the instance has been ejected, which lengthens the next ejection. */
  ejections = 0;
}

/** How fast an old latency is forgotten: Finagle's default decay time. */
const DECAY_MS = 10_000;

const loads = new WeakMap<Instance, Load>();

/** The load record of `instance`, created on first use. */
export function loadOf(instance: Instance): Load {
  let load = loads.get(instance);
  if (!load) loads.set(instance, (load = new Load()));
  return load;
}

/**
 * Adds one answer's latency: a slower answer than the estimate is taken at once (the "peak"),
 * a faster one pulls the estimate down with a weight that grows with the time since the last.
 */
export function observe(load: Load, ms: number, now: number): void {
  if (ms >= load.cost || load.stamp === 0) load.cost = ms;
  else {
    const weight = Math.exp(-(now - load.stamp) / DECAY_MS);
    load.cost = load.cost * weight + ms * (1 - weight);
  }
  load.stamp = now;
}

/**
 * What sending one more call to `instance` is expected to cost: its peak-EWMA latency times its
 * outstanding calls plus one. An instance with no answer yet starts at the service's `neutral`
 * latency, so it gets traffic without being flooded (a cost of 0 would send it every call until
 * its first answer).
 */
export function costOf(instance: Instance, neutral: number): number {
  const load = loadOf(instance);
  return (load.stamp === 0 ? neutral : load.cost) * (load.outstanding + 1);
}

/** P2C: the cheaper of two distinct random UP instances, other than `avoid` when possible. */
export function pickTwoChoices(entry: ServiceEntry, avoid: Instance | undefined, neutral: number): Instance | undefined {
  const up = entry.up;
  const count = up.length;
  if (count <= 1) return up[0];
  if (count === 2) {
    const [first, second] = up as [Instance, Instance];
    if (first === avoid) return second;
    if (second === avoid) return first;
    return cheaper(first, second, neutral);
  }
  const a = Math.floor(Math.random() * count);
  let b = Math.floor(Math.random() * (count - 1));
  if (b >= a) b++;
  if (up[a] === avoid || up[b] === avoid) {
    // A third index, neither a nor b (there are at least three), replaces the one to avoid.
    let c = (a + 1) % count;
    if (c === b) c = (c + 1) % count;
    if (up[a] === avoid) return cheaper(up[c] as Instance, up[b] as Instance, neutral);
    return cheaper(up[a] as Instance, up[c] as Instance, neutral);
  }
  return cheaper(up[a] as Instance, up[b] as Instance, neutral);
}

function cheaper(first: Instance, second: Instance, neutral: number): Instance {
  const one = costOf(first, neutral);
  const other = costOf(second, neutral);
  if (one !== other) return one < other ? first : second;
  return Math.random() < 0.5 ? first : second; // a tie (two new instances) favours neither
}

/** Round-robin over the UP instances, other than `avoid` when another exists. */
export function pickRoundRobin(entry: ServiceEntry, avoid: Instance | undefined): Instance | undefined {
  const up = entry.up;
  for (let tries = 0; tries < up.length; tries++) {
    const candidate = up[entry.cursor++ % up.length] as Instance;
    if (candidate !== avoid) return candidate;
  }
  return up[0];
}
