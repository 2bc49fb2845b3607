import type { Instance } from '../discovery/index.ts';

/** Why an attempt was cut short by the call path itself (not by the caller). */
export const REISSUE: Error = new Error('express-micro: instance went DOWN; the call moves to another instance');

/**
 * The idempotent attempts in flight, by instance id, so that when an instance is marked DOWN they
 * are cut short and sent to another instance at once instead of waiting out their timeout (a
 * partitioned instance never answers, and its calls would otherwise all fail). Only attempts that
 * could go elsewhere are tracked, so a lone instance's calls cost nothing here.
 */
export class InFlight {
  readonly #byInstance = new Map<string, Set<AbortController>>();

  /** Tracks an attempt to `instance`; the returned controller's signal aborts it. */
  add(instance: Instance): AbortController {
    const controller = new AbortController();
    let set = this.#byInstance.get(instance.id);
    if (!set) this.#byInstance.set(instance.id, (set = new Set()));
    set.add(controller);
    return controller;
  }

  /** Stops tracking an attempt that settled. */
  delete(instance: Instance, controller: AbortController): void {
    const set = this.#byInstance.get(instance.id);
    if (!set) return;
    set.delete(controller);
    if (set.size === 0) this.#byInstance.delete(instance.id);
  }

  /** Cuts short every tracked attempt to the instance with this id (it went DOWN). */
  reissue(instanceId: string): void {
    const set = this.#byInstance.get(instanceId);
    if (!set) return;
    this.#byInstance.delete(instanceId);
    for (const controller of set) controller.abort(REISSUE);
  }
}
