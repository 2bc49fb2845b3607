/**
 * Waiting that a command's stop signal (`CommandContext.signal`: Ctrl-C, SIGTERM, a test) cuts
 * short, for the commands that run until stopped (`watch`, `dashboard`).
 */

/**
 * `work`'s result, or `undefined` as soon as `signal` is aborted (`work` then runs on, and its
 * failure, if any, is swallowed: nobody waits for it any more).
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (signal === undefined) return work;
  const ignored = (): void => {};
  if (signal.aborted) {
    work.catch(ignored);
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = (): void => {
      work.catch(ignored);
      resolve(undefined);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Resolves after `ms` milliseconds, or at once when `signal` is (or gets) aborted. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    // Not unref'd: the command is still running, and this wait is all that keeps it so.
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
