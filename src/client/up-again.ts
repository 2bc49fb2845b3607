import type { MembershipSource } from '../discovery/index.ts';
import { after } from '../runtime/index.ts';

/**
 * Resolves true as soon as an instance of `service` comes UP (new, or back from DOWN), false after
 * `ms` or when `signal` aborts. For a call already under way whose every instance went DOWN at
 * once: on a busy machine a member that merely answered late can be marked DOWN and refute a
 * moment later, and the call waits for that within its deadline instead of failing at once. A
 * call that finds no instance UP when it starts still fails at once (docs/calls.md, "Retries").
 */
export function upAgain(cluster: MembershipSource, service: string, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (up: boolean): void => {
      timer.stop();
      cluster.events.off('up', listener);
      signal?.removeEventListener('abort', aborted);
      resolve(up);
    };
    const listener = (instance: { service: string }): void => {
      if (instance.service === service) finish(true);
    };
    const aborted = (): void => finish(false);
    const timer = after(ms, () => finish(false));
    cluster.events.on('up', listener);
    signal?.addEventListener('abort', aborted, { once: true });
  });
}
