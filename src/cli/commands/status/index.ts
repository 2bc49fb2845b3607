/**
 * `express-micro status`: every service and instance of a running cluster, as the peers given
 * see it, in a table (or JSON), with an exit code a script or a health check can use.
 */
import { parseOptions } from '../../args.ts';
import { readClusterView, type ClusterView } from '../../cluster-view.ts';
import { renderTable, useColour } from '../../cluster-table.ts';
import type { Command, CommandContext } from '../../command.ts';
import { CliError, EXIT } from '../../errors.ts';
import { findSecrets, PeerClient } from '../../peer.ts';
import { PEER_HELP, PEER_OPTION_SPECS, readPeerOptions } from '../../peer-options.ts';
import { readPreviousSecretUse, renderPreviousSecretUse, type PreviousSecretUse } from './previous-secret.ts';

const HELP = `Usage: express-micro status [--peer URL]... [--json]

Lists every service and instance of a running cluster: its status (UP, SUSPECT: UP but not
answering its probes, DOWN), when it was last heard from, its last probe's round trip, how
many routes it publishes and the events it subscribes to (EVENTS, shown once any instance
subscribes: the names; --json has their groups too). With several --peer, their views are merged (docs/operating.md,
"Command line"). During a secret rotation, a last line counts the requests the UP instances
accepted under a previous secret, and says when the last one was (docs/deploying.md, "Rotating
the secret").

  --json              print the view as JSON instead: { rows, reached, unreachable, at,
                      previousSecret: { accepted, instances, lastAcceptedAt, read } }; each
                      row's events: [{ event, group }], [] when none.

${PEER_HELP}

Exit codes: 0 every instance is UP; 1 an instance is SUSPECT or DOWN, or a --peer did not answer
while another did; 2 no peer could be reached, or bad input or an error (one line on stderr: a
refused secret, an unknown option, ...).

Examples:
  npx express-micro status
  npx express-micro status --peer http://10.0.0.5:3000 --json
`;

const SPEC = { ...PEER_OPTION_SPECS, json: { kind: 'boolean' } } as const;

/** 0 when every instance is UP and every peer answered, 1 otherwise (an ejection alone is not a failure). */
export function statusExitCode(view: ClusterView): number {
  return view.unreachable.length === 0 && view.rows.every((row) => row.status === 'UP') ? EXIT.ok : EXIT.failed;
}

async function run(argv: readonly string[], context: CommandContext): Promise<number> {
  const given = parseOptions(argv, SPEC);
  if (given.some((option) => option.name === 'help')) {
    context.out(HELP);
    return EXIT.ok;
  }
  const options = readPeerOptions(given, context.cwd);
  const json = given.some((option) => option.name === 'json');
  const client = new PeerClient({ ...findSecrets(options.secretFile), hmac: options.hmac, tls: options.tls });
  let view: ClusterView;
  let previousSecret: PreviousSecretUse;
  try {
    view = await readClusterView(client, options.peers);
    previousSecret = await readPreviousSecretUse(client, view);
  } finally {
    await client.close();
  }
  if (json) context.out(`${JSON.stringify({ ...view, previousSecret }, null, 2)}\n`);
  if (view.reached.length === 0) {
    const first = view.unreachable[0];
    const others = view.unreachable.length > 1 ? ` (and ${view.unreachable.length - 1} other peer${view.unreachable.length > 2 ? 's' : ''})` : '';
    throw new CliError(`${first?.reason ?? 'no peer to ask'}${others}`);
  }
  if (!json) context.out(renderTable(view, useColour(context.isTerminal)) + renderPreviousSecretUse(previousSecret, Date.now()));
  for (const { reason } of view.unreachable) context.error(`express-micro status: warning: ${reason}\n`);
  return statusExitCode(view);
}

/** The `status` command. */
export const statusCommand: Command = {
  name: 'status',
  summary: 'list every service and instance of a running cluster (exit 1 if one is not UP)',
  help: HELP,
  run,
};
