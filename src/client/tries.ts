/**
 * What one call learned about the instances it tried, for choosing where its next attempt goes
 * (docs/ARCHITECTURE.md, "A call"). Made on the first failure only: a call that succeeds at once
 * allocates nothing here.
 */
import type { Instance, ServiceEntry } from '../discovery/index.ts';
import { costOf } from './balancer.ts';
import type { LatencyEstimate } from './latency.ts';

/**
 * How an attempt failed, best first. A per-attempt timeout is a guess (the instance may be alive
 * and only slow); a reset or a retryable status came from something that was there a moment ago;
 * a refused connection, or an instance that went DOWN while the attempt waited, is a fact.
 */
export const Verdict = { slow: 0, broken: 1, gone: 2 } as const;

/** One of {@link Verdict}'s values. */
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** The instances a call has tried, each with how its attempt failed. */
export class Tries {
  readonly #instances: Instance[] = [];
  readonly #verdicts: Verdict[] = [];

  /** The instance tried last. */
  get last(): Instance | undefined {
    return this.#instances[this.#instances.length - 1];
  }

  add(instance: Instance, verdict: Verdict): void {
    this.#instances.push(instance);
    this.#verdicts.push(verdict);
  }

  has(instance: Instance): boolean {
    return this.#instances.includes(instance);
  }

  /**
   * When every instance has been tried: the UP one whose failure was the most likely to pass
   * (slow before broken, never gone), in the rotation before out of it, then the cheaper by the
   * balancer's cost. Undefined when every one refused or went DOWN: nothing is worth another try.
   */
  best(entry: ServiceEntry, estimate: LatencyEstimate, now: number): Instance | undefined {
    let best: Instance | undefined;
    let bestVerdict: Verdict = Verdict.gone;
    let bestInRotation = false;
    for (let index = 0; index < this.#instances.length; index++) {
      const instance = this.#instances[index] as Instance;
      const verdict = this.#worst(instance);
      if (verdict === Verdict.gone || instance.status !== 'UP') continue;
      const inRotation = entry.up.includes(instance);
      const better =
        best === undefined ||
        verdict < bestVerdict ||
        (verdict === bestVerdict && (inRotation !== bestInRotation ? inRotation : costOf(instance, entry, estimate, now) < costOf(best, entry, estimate, now)));
      if (better) {
        best = instance;
        bestVerdict = verdict;
        bestInRotation = inRotation;
      }
    }
    return best;
  }

  /** The worst verdict `instance` earned in this call (it may have been tried twice). */
  #worst(instance: Instance): Verdict {
    let worst: Verdict = Verdict.slow;
    for (let index = 0; index < this.#instances.length; index++) {
      if (this.#instances[index] === instance && (this.#verdicts[index] as Verdict) > worst) worst = this.#verdicts[index] as Verdict;
    }
    return worst;
  }
}
