/**
 * What one call learned about the instances it tried, for choosing where its next attempt goes
 * (docs/ARCHITECTURE.md, "A call"). Made on the first failure only: a call that succeeds at once
 * allocates nothing here.
 */
import type { Instance } from '../discovery/index.ts';
import { loadOf } from './balancer.ts';

/**
 * How an attempt failed, best first. A per-attempt timeout is a guess (the instance may be alive
 * and only slow); a reset or a retryable status came from something that was there a moment ago;
 * an attempt re-issued because membership suspected its instance is worth trying again only once
 * the suspicion is gone (refuted: a busy member answers late); a refused connection is a fact.
 */
export const Verdict = { slow: 0, broken: 1, suspected: 2, gone: 3 } as const;

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
   * (slow before broken before a suspicion since refuted, never gone), then the one this caller heard from last. A silent instance
   * and a live one that was slow once both earn "slow"; only the live one keeps answering other
   * calls (its rotation place or its cost say less: under load the live one can be the ejected
   * one). Undefined when every one refused or went DOWN: nothing is worth another try.
   */
  best(): Instance | undefined {
    let best: Instance | undefined;
    let bestVerdict: Verdict = Verdict.gone;
    let bestAnswer = -1;
    for (let index = 0; index < this.#instances.length; index++) {
      const instance = this.#instances[index] as Instance;
      const verdict = this.#worst(instance);
      if (verdict === Verdict.gone || instance.status !== 'UP' || (verdict === Verdict.suspected && instance.suspect)) continue;
      const answeredAt = loadOf(instance).answeredAt;
      if (best === undefined || verdict < bestVerdict || (verdict === bestVerdict && answeredAt > bestAnswer)) {
        best = instance;
        bestVerdict = verdict;
        bestAnswer = answeredAt;
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
