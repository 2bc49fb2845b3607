/**
 * The process's shutdown signals, for the library's opt-in `drain` (docs/ARCHITECTURE.md,
 * "Drain"). `node:process` rather than the global: Deno has it under that name too.
 */
import process from 'node:process';

/** The signals a drain answers: what Kubernetes, systemd and Docker send (SIGTERM), and Ctrl-C or `pm2 reload` (SIGINT). */
export type ShutdownSignal = 'SIGTERM' | 'SIGINT';

const SIGNALS: readonly ShutdownSignal[] = ['SIGTERM', 'SIGINT'];

/**
 * Calls `handler` on SIGTERM and SIGINT in place of the default (the process ending at once).
 * Returns the function that removes it. A listener does not keep the process alive on Node and Bun.
 */
export function onShutdownSignal(handler: (signal: ShutdownSignal) => void): () => void {
  const listeners = SIGNALS.map((name) => {
    const listener = (): void => handler(name);
    process.on(name, listener);
    return [name, listener] as const;
  });
  return () => {
    for (const [name, listener] of listeners) process.off(name, listener);
  };
}

/** The conventional exit code of a process ended by `signal` without a clean stop: 128 + its number. */
export function signalExitCode(signal: ShutdownSignal): number {
  return signal === 'SIGINT' ? 130 : 143;
}

/** Ends the process now with `code`. */
export function exitProcess(code: number): void {
  process.exit(code);
}
