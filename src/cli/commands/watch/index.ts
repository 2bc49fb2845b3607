/**
 * `express-micro watch`: the `status` table kept up to date, and a line per change (an instance
 * UP, DOWN, suspected, joined, left, ejected, restored; a peer unreachable or back). On a
 * terminal the table is redrawn in place; otherwise it is printed once and the changes follow,
 * one line each, for logs and pipes. Runs until stopped (Ctrl-C, SIGTERM: exit 0).
 */
import { pause, untilAborted } from '../../abortable.ts';
import { parseOptions } from '../../args.ts';
import { diffViews, readClusterView, type ClusterView } from '../../cluster-view.ts';
import { renderChange, renderTable, useColour } from '../../cluster-table.ts';
import type { Command, CommandContext } from '../../command.ts';
import { CliError, EXIT } from '../../errors.ts';
import { findSecrets, PeerClient } from '../../peer.ts';
import { PEER_HELP, PEER_OPTION_SPECS, readMilliseconds, readPeerOptions } from '../../peer-options.ts';

/** How often the peers are asked, by default. */
const DEFAULT_INTERVAL_MS = 1000;
/** The shortest interval accepted: each round is one request per peer. */
const MIN_INTERVAL_MS = 100;
/** `watch` gives up when no peer has answered for this many intervals in a row. */
const GIVE_UP_INTERVALS = 10;
/** How many change lines stay under the table on a terminal. */
const TERMINAL_LOG_LINES = 15;

const HELP = `Usage: express-micro watch [--peer URL]... [--interval MS]

The status table (see express-micro status --help), kept up to date, and one line per change:
an instance UP, DOWN, suspected, joined, left, ejected or restored, or its subscriptions
changed; a peer unreachable or answering again. On a terminal the table is redrawn in place with the latest changes under it;
otherwise (a pipe, a file) the table is printed once and each change follows as a line:

  2025-01-02T10:00:01.250Z  DOWN            order-service http://127.0.0.1:4001 (id 3f9a2c71d0e4b6a8)

  --interval MS       how often to ask the peers (default ${DEFAULT_INTERVAL_MS}, at least ${MIN_INTERVAL_MS}).

${PEER_HELP}

Runs until Ctrl-C or SIGTERM (exit 0). Gives up with exit code 2 when no peer has answered for
${GIVE_UP_INTERVALS} intervals in a row (${(GIVE_UP_INTERVALS * DEFAULT_INTERVAL_MS) / 1000} s by default), counted from the start or from the last
answer; one peer answering is enough to keep watching. Also 2: bad input, a refused secret.
`;

const SPEC = { ...PEER_OPTION_SPECS, interval: { kind: 'string' } } as const;

function timestamp(at: number): string {
  return new Date(at).toISOString();
}

/** Cuts a line to the terminal's width, so that nothing wraps and the redraw stays in place. */
function fit(line: string, columns: number | undefined): string {
  if (columns === undefined) return line;
  const visible = line.replace(/\x1b\[[0-9;]*m/g, '');
  return visible.length <= columns ? line : `${visible.slice(0, Math.max(0, columns - 1))}…`;
}

/** The whole screen on a terminal: a header, the table, the peers not answering, the latest changes. */
function screen(view: ClusterView, shown: ClusterView | undefined, log: readonly string[], interval: number, colour: boolean, columns: number | undefined): string {
  const lines = [`express-micro watch: ${view.reached.length} of ${view.reached.length + view.unreachable.length} peers answering, every ${interval} ms, at ${timestamp(view.at)} (Ctrl-C to stop)`, ''];
  if (shown !== undefined) lines.push(...renderTable(shown, colour).trimEnd().split('\n'));
  else lines.push('(no peer has answered yet)');
  for (const { reason } of view.unreachable) lines.push(`unreachable: ${reason}`);
  if (log.length > 0) lines.push('', ...log);
  // Home, then each line clearing what the previous frame left to its right, then the rest.
  return `\x1b[H${lines.map((line) => `${fit(line, columns)}\x1b[K`).join('\n')}\n\x1b[J`;
}

async function run(argv: readonly string[], context: CommandContext): Promise<number> {
  const given = parseOptions(argv, SPEC);
  if (given.some((option) => option.name === 'help')) {
    context.out(HELP);
    return EXIT.ok;
  }
  const options = readPeerOptions(given, context.cwd);
  const intervalOption = given.find((option) => option.name === 'interval')?.value;
  const interval = typeof intervalOption === 'string' ? readMilliseconds('interval', intervalOption, MIN_INTERVAL_MS) : DEFAULT_INTERVAL_MS;
  const giveUp = GIVE_UP_INTERVALS * interval;
  const terminal = context.isTerminal === true;
  const colour = useColour(context.isTerminal);
  const { signal } = context;
  const client = new PeerClient({ ...findSecrets(options.secretFile), hmac: options.hmac, tls: options.tls });
  const log: string[] = [];
  let shown: ClusterView | undefined;
  let lastAnswer = Date.now();
  let silent = new Set<string>();
  try {
    if (terminal) context.out('\x1b[2J');
    while (signal?.aborted !== true) {
      const view = await untilAborted(readClusterView(client, options.peers), signal);
      if (view === undefined) break;
      const lines: string[] = [];
      const nowSilent = new Set(view.unreachable.map((peer) => peer.origin));
      for (const { origin, reason } of view.unreachable) if (!silent.has(origin)) lines.push(`${timestamp(view.at)}  ${'unreachable'.padEnd(14)}  ${reason}`);
      for (const origin of view.reached) if (silent.has(origin)) lines.push(`${timestamp(view.at)}  ${'reachable'.padEnd(14)}  ${origin} answers again`);
      silent = nowSilent;
      if (view.reached.length > 0) {
        lastAnswer = view.at;
        if (shown === undefined) {
          if (!terminal) context.out(renderTable(view));
        } else {
          for (const change of diffViews(shown, view)) lines.push(renderChange(change, colour));
        }
        shown = view;
      } else if (view.at - lastAnswer >= giveUp) {
        throw new CliError(`no peer has answered for ${((view.at - lastAnswer) / 1000).toFixed(1)} s (watch gives up after ${GIVE_UP_INTERVALS} intervals): ${view.unreachable[0]?.reason ?? 'no peer'}`);
      }
      if (terminal) {
        log.push(...lines);
        log.splice(0, Math.max(0, log.length - TERMINAL_LOG_LINES));
        context.out(screen(view, shown, log, interval, colour, context.columns));
      } else {
        for (const line of lines) context.out(`${line}\n`);
      }
      await pause(interval, signal);
    }
  } finally {
    await client.close();
  }
  return EXIT.ok;
}

/** The `watch` command. */
export const watchCommand: Command = {
  name: 'watch',
  summary: 'the status table, live, and a line per change (UP, DOWN, suspected, joined, left)',
  help: HELP,
  run,
};
