/**
 * The opt-in graceful stop (`drain`): on SIGTERM or SIGINT, leave the cluster, finish the
 * requests in flight, close the servers and exit (docs/ARCHITECTURE.md, "Drain"). Every
 * `expressMicro()` of the process with `drain` on is drained at once, and the process exits when
 * the last is done.
 */
import type { ExpressApp, IncomingRequest, ListeningServer, OutgoingResponse } from '../express.ts';
import type { Logger } from '../options.ts';
import { delay, exitProcess, monotonicNow, onShutdownSignal, signalExitCode, stopAccepting, type ShutdownSignal } from '../runtime/index.ts';

/**
 * How long no request may have started before the servers close. A caller that picked this
 * instance just before it heard the leave sends within a moment; closing an idle keep-alive
 * connection under such a request would fail it, and a POST is not retried.
 */
const QUIET_MS = 250;
/** How often the drain looks at what is in flight. */
const POLL_MS = 10;

/** What a drain needs from the server `app.listen()` returned (Node's, Bun's and Deno's have it). */
interface ClosableServer {
  close(callback?: (error?: Error) => void): unknown;
  closeIdleConnections?(): void;
  closeAllConnections?(): void;
}

/** A response's end: `finish` when it was sent, `close` also when the client went away. */
interface Finishing {
  once?(event: string, listener: () => void): unknown;
}

type Handle = (this: unknown, request: IncomingRequest, response: OutgoingResponse, callback?: unknown) => unknown;

/** What a drain is told by the plugin. */
export interface DrainSettings {
  /** The most milliseconds from the signal to the exit. */
  readonly timeout: number;
  /** The service's name, for the log. */
  readonly name: string;
  readonly logger: Logger;
  /** Leaves the cluster (`micro.close()`). */
  readonly leave: () => Promise<void>;
  /**
   * The port is shared with sibling workers (node:cluster), so no leave turns callers away: the
   * server stops taking connections first, and the siblings take the new ones.
   */
  readonly shared: boolean;
}

const drains = new Set<Drain>();
let removeListeners: (() => void) | undefined;
let stopping = false;

function onSignal(signal: ShutdownSignal): void {
  // A second signal means "now": the operator (or the supervisor) is done waiting.
  if (stopping) return exitProcess(signalExitCode(signal));
  stopping = true;
  void Promise.all([...drains].map((drain) => drain.run(signal))).then((codes) => exitProcess(Math.max(0, ...codes)));
}

/** Counts an app's requests in flight and, on a shutdown signal, drains them (see the file's comment). */
export class Drain {
  readonly #settings: DrainSettings;
  readonly #servers = new Set<ClosableServer>();
  #inFlight = 0;
  #lastStart = Number.NEGATIVE_INFINITY;
  #draining = false;

  constructor(settings: DrainSettings) {
    this.#settings = settings;
    drains.add(this);
    removeListeners ??= onShutdownSignal(onSignal);
  }

  /** Wraps `app.handle` (every request, `/_discovery` included) to count what is in flight. */
  wrap(app: ExpressApp): void {
    const original = app.handle as Handle | undefined;
    if (typeof original !== 'function') return;
    const track = (response: OutgoingResponse): void => this.#track(response);
    app.handle = function handleCounted(this: unknown, request: IncomingRequest, response: OutgoingResponse, callback?: unknown): unknown {
      track(response);
      return original.call(this, request, response, callback);
    };
  }

  /** A server the app listens on, closed by the drain. */
  serve(server: ListeningServer): void {
    const closable = server as Partial<ClosableServer>;
    if (typeof closable.close === 'function') this.#servers.add(closable as ClosableServer);
  }

  /** Stops answering signals for this app (its `close()` was called by hand); a drain under way goes on. */
  dispose(): void {
    if (this.#draining) return;
    drains.delete(this);
    if (drains.size === 0 && !stopping) {
      removeListeners?.();
      removeListeners = undefined;
    }
  }

  #track(response: OutgoingResponse): void {
    const events = response as Finishing;
    if (typeof events.once !== 'function') return;
    this.#inFlight++;
    this.#lastStart = monotonicNow();
    // The client then retires the connection after this answer, instead of racing our close with its next request.
    if (this.#draining && response.headersSent !== true) response.setHeader('connection', 'close');
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#inFlight--;
    };
    events.once('finish', finish);
    events.once('close', finish);
  }

  async #until(condition: () => boolean, deadline: number): Promise<boolean> {
    while (!condition()) {
      if (monotonicNow() >= deadline) return false;
      await delay(POLL_MS);
    }
    return true;
  }

  /** Leaves, waits for a quiet moment, closes the servers, waits for the rest; the exit code (1 when time ran out). */
  async run(signal: ShutdownSignal): Promise<number> {
    const { timeout, name, logger, leave, shared } = this.#settings;
    this.#draining = true;
    const deadline = monotonicNow() + timeout;
    logger.info(`express-micro: ${name} got ${signal}: leaving the cluster and finishing the requests in flight (at most ${timeout} ms), then exiting`);
    let left = false;
    const leaving = leave().then(
      () => (left = true),
      () => (left = true),
    );
    await Promise.race([leaving, this.#until(() => left, deadline)]);
    // Callers keep sending to a shared address; new connections now reach the siblings, and each
    // open one carries at most one more request (its answer says `Connection: close`).
    if (shared) for (const server of this.#servers) stopAccepting(server);
    const quiet = await this.#until(() => this.#inFlight === 0 && monotonicNow() - this.#lastStart >= QUIET_MS, deadline);
    for (const server of this.#servers) {
      server.close();
      server.closeIdleConnections?.();
    }
    const finished = quiet && (await this.#until(() => this.#inFlight === 0, deadline));
    for (const server of this.#servers) server.closeAllConnections?.();
    if (!finished) {
      logger.warn(`express-micro: ${name} did not drain within ${timeout} ms; ${this.#inFlight} request(s) still in flight are cut off`);
      return 1;
    }
    logger.info(`express-micro: ${name} drained; exiting`);
    return 0;
  }
}
