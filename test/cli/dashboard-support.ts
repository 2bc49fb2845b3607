/** Shared by the dashboard tests: `express-micro dashboard` run in-process until its signal aborts. */
import { main } from '../../src/cli/main.ts';
import { waitFor } from '../helpers.ts';

/** A dashboard running in-process, and what it printed. */
export interface RunningDashboard {
  url: string;
  port: number;
  output: () => { out: string; err: string };
  /** Aborts its signal; resolves with the exit code. */
  stop(): Promise<number>;
}

/** Runs `express-micro dashboard <argv>` in this process until stopped; resolves once it printed its URL. */
export async function startDashboard(argv: string[]): Promise<RunningDashboard> {
  const controller = new AbortController();
  let out = '';
  let err = '';
  const exit = main(['dashboard', ...argv], { cwd: process.cwd(), out: (text) => (out += text), error: (text) => (err += text), signal: controller.signal });
  let ended: number | undefined;
  void exit.then((code) => (ended = code));
  await waitFor(() => /dashboard: (http:\S+)\n/.test(out) || ended !== undefined, 'the dashboard prints its URL', 20_000);
  const match = /dashboard: (http:\/\/127\.0\.0\.1:(\d+))\n/.exec(out);
  if (match === null) throw new Error(`the dashboard did not start (exit ${ended}): ${err}`);
  return {
    url: match[1] as string,
    port: Number(match[2]),
    output: () => ({ out, err }),
    stop: () => {
      controller.abort();
      return exit;
    },
  };
}


/** Where Debian puts its Chromium (.ci/run installs it). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Why the browser test cannot run here (no Chromium), or `undefined` when it can. Under CI
 * (`CI=true`, where .ci/run installs Chromium) a missing browser throws instead: a broken set-up
 * must fail, not skip.
 */
export function browserUnavailable(exists: (path: string) => boolean): string | undefined {
  const reason = exists(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  if (reason !== undefined && process.env.CI === 'true') throw new Error(`CI must run the dashboard's browser test, but there is ${reason}`);
  return reason;
}
