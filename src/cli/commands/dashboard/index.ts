/**
 * `express-micro dashboard`: a live web page of a cluster, served on 127.0.0.1 by the command,
 * which alone holds the secret (README, "Dashboard"). A {@link Monitor} polls the cluster every
 * interval; the server pushes each snapshot to the open pages.
 */
import { ListenError } from '../../../runtime/server/index.ts';
import { pause, untilAborted } from '../../abortable.ts';
import type { Command, CommandContext } from '../../command.ts';
import { CliError, EXIT } from '../../errors.ts';
import { PEER_HELP } from '../../peer-options.ts';
import { findSecrets, PeerClient } from '../../peer.ts';
import { Monitor } from './monitor.ts';
import { DEFAULT_INTERVAL, DEFAULT_PORT, parseDashboardOptions, type DashboardOptions } from './options.ts';
import { startDashboardServer, type DashboardServer } from './server.ts';

/** Rates and percentiles cover at least this span, ms (more when the interval is long). */
const MINIMUM_WINDOW_MS = 10_000;

const HELP = `Usage: express-micro dashboard [--peer URL]... [--port N] [--interval MS]

Serves a live web page of a cluster on http://127.0.0.1:<port>: every service, its instances
and their status (UP, SUSPECT, DOWN, ejected), a timeline of changes, and per service the call
rate, error rate and latency percentiles (p50, p95, p99) its callers measured. Open the URL it
prints; stop it with Ctrl-C. The cluster is read from the peers' GET /_discovery/services,
the metrics from every UP instance's /_discovery/metrics.

  --port N            the local port (default ${DEFAULT_PORT}; 0 = any free port). Only 127.0.0.1
                      listens, and only requests for 127.0.0.1:N or localhost:N are answered.
  --interval MS       how often the cluster is read (default ${DEFAULT_INTERVAL}, at least 100).

${PEER_HELP}
  The secret never leaves this command: the page gets what the peers answered, not how.

Exit codes: 0 stopped; 2 bad input or an error (one line on stderr: the port is taken, the
secret was refused, ...).

Example:
  npx express-micro dashboard --peer http://127.0.0.1:3000
`;

async function serve(options: DashboardOptions, monitor: Monitor): Promise<DashboardServer> {
  try {
    return await startDashboardServer(monitor, options.port);
  } catch (error) {
    if (error instanceof ListenError && error.code === 'EADDRINUSE') throw new CliError(`port ${options.port} is in use on 127.0.0.1; choose another with --port (0 = any free port)`);
    if (error instanceof ListenError) throw new CliError(`cannot listen on 127.0.0.1:${options.port}: ${error.message}`);
    throw error;
  }
}

async function run(argv: readonly string[], context: CommandContext): Promise<number> {
  const options = parseDashboardOptions(argv, context.cwd);
  if (options.help) {
    context.out(HELP);
    return EXIT.ok;
  }
  const client = new PeerClient({ ...findSecrets(options.secretFile), hmac: options.hmac, tls: options.tls });
  const monitor = new Monitor(client, { peers: options.peers, interval: options.interval, windowMs: Math.max(MINIMUM_WINDOW_MS, 5 * options.interval) });
  let server: DashboardServer | undefined;
  try {
    // A refused secret ends the command here, with one line; an unreachable peer does not (the
    // cluster may be starting): the page says so until it answers.
    const first = await monitor.poll(true);
    for (const peer of first.unreachable) context.error(`express-micro dashboard: ${peer.reason}\n`);
    server = await serve(options, monitor);
    context.out(`dashboard: ${server.url}\n`);
    await pollUntil(monitor, options.interval, context.signal);
    return EXIT.ok;
  } finally {
    await server?.close();
    await client.close();
  }
}

/** Polls every `interval` ms (from the start of one poll to the next) until `signal` aborts. */
async function pollUntil(monitor: Monitor, interval: number, signal: AbortSignal | undefined): Promise<void> {
  while (signal?.aborted !== true) {
    // On stop, a poll still waiting for a slow peer is left behind: closing the pool ends it.
    await untilAborted(Promise.all([monitor.poll(), pause(interval, signal)]), signal);
  }
}

/** The `dashboard` command. */
export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'serve a live web page of a cluster on 127.0.0.1 (services, instances, timeline, rates)',
  help: HELP,
  run,
};
