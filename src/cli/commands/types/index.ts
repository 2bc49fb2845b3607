/**
 * `express-micro types`: writes TypeScript declarations that make `services` precise, from the
 * routes a running cluster publishes (`--peer`) or from the services' source (`--app`), and with
 * `--check` tells whether a committed file is still what would be generated (README, "Generated
 * types").
 */
import { FileError, readTextFile, relativePath, writeTextFile } from '../../../runtime/files/index.ts';
import type { Command, CommandContext } from '../../command.ts';
import { CliError, EXIT } from '../../errors.ts';
import { DEFAULT_PEER, findSecrets, PEER_TIMEOUT_MS } from '../../peer.ts';
import { firstDifference } from './check.ts';
import { ServiceSet } from './model.ts';
import { parseTypesOptions, type TypesOptions } from './options.ts';
import { readCluster } from './peers.ts';
import { renderDeclarations } from './render.ts';
import { readSources } from './source/index.ts';

const HELP = `Usage: express-micro types [--peer URL]... [--app FILE [--name NAME]]... [--out FILE [--check]]

Writes TypeScript declarations for the services of a cluster: once the file is part of your
program, \`services\` knows every service (userService, 'user-service', user_service), its calls
and their path parameters, and unknown names fail to compile. The events the cluster subscribes
to (micro.subscribe) are declared in EventRegistry: their payloads are unknown, or, with --app,
the type the subscribers' handlers declare.

Sources (together: --app wins for the services it reads):
  --peer URL          a running service; asks GET /_discovery/services what it and its peers
                      publish. Repeatable. Default: ${DEFAULT_PEER} when no --app is given.
  --app FILE          a service's TypeScript (or JavaScript) source, read with the TypeScript
                      compiler (install typescript): answer types are inferred from what the
                      handlers pass to res.json() / res.send(). Repeatable, one service each.
  --name NAME         the service name of the --app before it, when its expressMicro() call has
                      no literal serviceName.

Output:
  --out FILE          write the declarations there (default: standard output).
  --check             write nothing; exit 1 if FILE differs from what would be generated now.
  --module NAME       the module the app imports express-micro as (default: express-micro;
                      jsr:@x/express-micro with Deno).
  --no-events         leave EventRegistry out, for a project that declares its events'
                      payload types itself (TypeScript refuses two types for one name).

Reaching the cluster (as the services do):
  --secret-file FILE  the secret file to read when EXPRESS_DISCOVERY_KEY is not set (default:
                      express-micro-<uid>.key in the temp folder).
  --hmac              sign the request (for a cluster with enableHmac: true).
  --ca FILE           for a cluster with \`tls\`: the CA its certificates are checked against (PEM);
  --cert FILE         with --key, the client certificate to present (mutual TLS).
  --key FILE
  Each peer has ${PEER_TIMEOUT_MS / 1000} s to answer.

Exit codes: 0 written, or up to date with --check; 1 --check found a difference; 2 bad input or
an error (one line on stderr: an unreachable peer, a refused secret, a missing file, ...).

Examples:
  npx express-micro types --peer http://127.0.0.1:3000 --out src/services.d.ts
  npx express-micro types --app services/users/src/app.ts --app services/orders/src/app.ts --out src/services.d.ts
  npx express-micro types --peer http://127.0.0.1:3000 --out src/services.d.ts --check
`;

async function collect(options: TypesOptions, context: CommandContext): Promise<ServiceSet> {
  const services = new ServiceSet();
  if (options.peers.length > 0) {
    for (const list of await readCluster(options.peers, { ...findSecrets(options.secretFile), hmac: options.hmac, tls: options.tls })) for (const service of list) services.merge(service);
  }
  if (options.apps.length > 0) {
    const read = await readSources(options.apps);
    for (const warning of read.warnings) context.error(`express-micro types: warning: ${relativePath(context.cwd, warning.file)}:${warning.line}: ${warning.message}\n`);
    for (const service of read.services) services.replace(service);
  }
  return services;
}

async function run(argv: readonly string[], context: CommandContext): Promise<number> {
  const options = parseTypesOptions(argv, context.cwd);
  if (options.help) {
    context.out(HELP);
    return EXIT.ok;
  }
  const collected = await collect(options, context);
  const rendered = renderDeclarations(collected.list(), { module: options.module }, options.noEvents ? [] : collected.events());
  const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;
  const summary = `${plural(rendered.services, 'service')}, ${plural(rendered.calls, 'call')}${rendered.events > 0 ? `, ${plural(rendered.events, 'event')}` : ''}`;
  try {
    if (options.out === undefined) {
      context.out(rendered.text);
      return EXIT.ok;
    }
    if (options.check) {
      const onDisk = readTextFile(options.out.path);
      if (onDisk === undefined) {
        context.error(`express-micro types: ${options.out.label} does not exist; run the command without --check to write it\n`);
        return EXIT.outOfDate;
      }
      const difference = firstDifference(onDisk, rendered.text);
      if (difference === undefined) {
        context.error(`express-micro types: ${options.out.label} is up to date (${summary})\n`);
        return EXIT.ok;
      }
      context.error(`express-micro types: ${options.out.label} is out of date: ${difference}; run the command without --check to update it\n`);
      return EXIT.outOfDate;
    }
    writeTextFile(options.out.path, rendered.text);
    context.error(`express-micro types: wrote ${options.out.label} (${summary})\n`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof FileError) throw new CliError(error.message);
    throw error;
  }
}

/** The `types` command. */
export const typesCommand: Command = {
  name: 'types',
  summary: 'write TypeScript declarations for the services of a cluster (from it, or from their source)',
  help: HELP,
  run,
};
