/**
 * Zone-aware routing (docs/rolling-deploys.md, "Zones"): a caller with a `zone` sends a call's
 * first attempt to the instances of its own zone while that zone has enough healthy capacity, and
 * to every instance that serves the call when it has not. Retries and hedges may go anywhere.
 *
 * The rule: the zone's healthy instances (UP, neither suspected nor ejected by this caller) are
 * preferred while they are at least one and at least half of its instances that serve the call
 * (DOWN ones included, until the table forgets them: a crashed instance is capacity lost).
 * When more than half of a zone's instances are suspected, ejected or gone, each one left would
 * take more than twice its share: the calls spread over every zone instead (at exactly half, each
 * takes twice its share, which a zone sized for one lost instance in two still carries). Envoy's zone-aware
 * routing sends a proportional share across zones instead, from the sizes of both the caller's
 * and the callee's zones (and turns off below `min_cluster_size`, 6 by default); we do not know
 * where the other callers run, so the rule assumes they are spread as the instances are (what
 * Kubernetes' topology-aware routing assumes too). Linkerd's HAZL also spills when the zone's
 * load rises; here the balancer's cost (latency × outstanding) spreads load within the zone, and
 * a zone that is slow enough to time out its calls gets its instances ejected, which spills.
 */
import type { Instance } from '../discovery/index.ts';

/**
 * The instances of `rotation` (the UP instances that serve a call, as the pool chose them) in
 * `zone`, when the zone has enough healthy capacity by the rule above; undefined otherwise, or
 * when there is no zone, or when every instance of the rotation is in it anyway.
 */
export function inZone(zone: string | undefined, serving: readonly Instance[], rotation: Instance[]): Instance[] | undefined {
  if (zone === undefined) return undefined;
  let known = 0;
  for (const instance of serving) if (instance.zone === zone) known++;
  const healthy = rotation.filter((instance) => instance.zone === zone && instance.status === 'UP' && !instance.suspect && instance.ejectedUntil === 0);
  if (healthy.length === 0 || healthy.length * 2 < known || healthy.length === rotation.length) return undefined;
  return healthy;
}
