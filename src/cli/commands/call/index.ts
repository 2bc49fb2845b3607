/**
 * `express-micro call`: one `services` call from the command line. The service's instances and
 * routes come from the peers' `/_discovery/services`; the call name is resolved with the proxy's
 * own route index, the request built with its own helpers and signed as members sign theirs, and
 * failures are the library's own error classes. It does not join the cluster.
 */
import { callNames, chooseRoute, indexRoutes } from '../../../client/route-index.ts';
import { serviceKey } from '../../../discovery/service-name.ts';
import { AmbiguousRouteError, ExpressMicroError, RemoteError, RouteNotFoundError, ServiceUnavailableError } from '../../../errors/index.ts';
import type { RouteDescriptor } from '../../../routes/index.ts';
import { parseCommandLine } from '../../args.ts';
import { clusterViewOf, fetchServices, type InstanceRow } from '../../cluster-view.ts';
import type { Command, CommandContext } from '../../command.ts';
import { CliError, EXIT } from '../../errors.ts';
import { findSecrets, PeerClient } from '../../peer.ts';
import { PEER_HELP, PEER_OPTION_SPECS, readMilliseconds, readPeerOptions } from '../../peer-options.ts';
import { parseServicesView } from '../types/peers.ts';
import { callArguments, parseJsonArguments } from './arguments.ts';
import { sendCall } from './send.ts';

/** The library's default `timeout`. */
const DEFAULT_TIMEOUT_MS = 10_000;
/** The most characters of an error answer's body quoted on the error line. */
const BODY_EXCERPT = 300;

const HELP = `Usage: express-micro call [--peer URL]... <service> <callName> [json-args] [--timeout MS]

Makes a services call from the command line, as services.<service>.<callName>(args) would in
a service: the answer is printed on standard output (JSON pretty-printed, text as it is), or the
error as one line on standard error (RemoteError, RouteNotFoundError, TimeoutError, ...).

  <service>           the service's name in any spelling: userService, user-service, user_service.
  <callName>          the call's name, as services.<service> has it (getUser, createUser, ...).
  [json-args]         a JSON object: path parameters, then the query string (GET, DELETE) or the
                      JSON body (POST, PUT, PATCH). A lone string or number fills the route's
                      only path parameter. Quote it for the shell: '{"id":7}'.
  --timeout MS        how long the call may take, every attempt included (default ${DEFAULT_TIMEOUT_MS}).

${PEER_HELP}
  The peers say which instances are UP; the call goes to them in turn (to the next one when a
  connection cannot be made), signed for the instance with --hmac. It does not join the cluster.
  With --hmac, as a service's own calls do, it follows an instance restarted in place (its 401
  says, signed, which id answers now), and signs with EXPRESS_DISCOVERY_KEY_PREVIOUS where an
  instance refuses the first secret (a rotation under way).

Exit codes: 0 the service answered 2xx; 1 the call failed (an error answer, a timeout, no UP
instance, no such call); 2 bad input (not JSON, not an object, an unknown option) or no peer
reached, or the secret refused.

Examples:
  npx express-micro call user-service getUser '{"id":7}'
  npx express-micro call userService createUser '{"name":"Ada"}' --timeout 2000
`;

const SPEC = { ...PEER_OPTION_SPECS, timeout: { kind: 'string' } } as const;

/** The service's registered name and every route the peers list for it. */
interface ServiceRoutes {
  name: string;
  routes: RouteDescriptor[];
}

/** The library's error as one line: its class, its message (without the library's prefix), the answer's body. */
function errorLine(error: ExpressMicroError): string {
  let line = `${error.name}: ${error.message.replace(/^express-micro: /, '')}`;
  if (error instanceof RemoteError && error.body !== undefined) {
    const body = typeof error.body === 'string' ? error.body : JSON.stringify(error.body);
    const flat = body.replace(/\s*\n\s*/g, ' ');
    line += `: ${flat.length > BODY_EXCERPT ? `${flat.slice(0, BODY_EXCERPT)}…` : flat}`;
  }
  return line;
}

/** Instances worth calling, best first: UP, then suspected, each without caller ejections first. */
function candidates(rows: readonly InstanceRow[], key: string): InstanceRow[] {
  const rank = (row: InstanceRow): number => (row.status === 'UP' ? 0 : 2) + (row.ejected ? 1 : 0);
  return rows.filter((row) => serviceKey(row.service) === key && row.status !== 'DOWN').sort((a, b) => rank(a) - rank(b));
}

async function run(argv: readonly string[], context: CommandContext): Promise<number> {
  const { options: given, positionals } = parseCommandLine(argv, SPEC, 3);
  if (given.some((option) => option.name === 'help')) {
    context.out(HELP);
    return EXIT.ok;
  }
  const [wantedService, callName, argumentText] = positionals;
  if (wantedService === undefined || callName === undefined) throw new CliError('give a service and a call name: express-micro call <service> <callName> [json-args]');
  const options = readPeerOptions(given, context.cwd);
  const timeoutOption = given.find((option) => option.name === 'timeout')?.value;
  const timeout = typeof timeoutOption === 'string' ? readMilliseconds('timeout', timeoutOption, 1) : DEFAULT_TIMEOUT_MS;
  const parsed = argumentText === undefined ? undefined : parseJsonArguments(argumentText);
  const secrets = findSecrets(options.secretFile);
  const secret = secrets.secret;

  const client = new PeerClient({ ...secrets, hmac: options.hmac, tls: options.tls });
  const at = Date.now();
  let fetched;
  try {
    fetched = await fetchServices(client, options.peers);
  } finally {
    await client.close();
  }
  const { answers, unreachable } = fetched;
  if (answers.length === 0) throw new CliError(unreachable[0]?.reason ?? 'no peer to ask');

  const services = new Map<string, ServiceRoutes>();
  for (const { origin, body } of answers) {
    for (const model of parseServicesView(origin, body)) {
      const key = serviceKey(model.name);
      const known = services.get(key);
      if (known === undefined) services.set(key, { name: model.name, routes: [...model.routes] });
      else known.routes.push(...model.routes);
    }
  }
  const known = [...services.values()].map((service) => service.name).sort();
  const key = serviceKey(wantedService);
  try {
    const service = services.get(key);
    if (service === undefined) throw new ServiceUnavailableError(wantedService, callName, `no such service is known (known: ${known.join(', ') || 'none'})`, known);
    const index = indexRoutes(service.routes);
    const found = index.get(callName);
    if (found === undefined) throw new RouteNotFoundError(service.name, callName, callNames(index));
    if ('ambiguous' in found) throw new AmbiguousRouteError(service.name, callName, found.ambiguous);
    const args = callArguments(parsed, found, `${service.name}.${callName}`);
    const answer = await sendCall({
      service: service.name,
      call: callName,
      route: chooseRoute(found, args),
      args,
      instances: candidates(clusterViewOf(answers, unreachable, at).rows, key),
      known,
      timeout,
      signWith: options.hmac ? [secret, ...secrets.previous] : undefined,
      tls: options.tls,
      signal: context.signal,
    });
    if (answer === undefined) return EXIT.ok;
    context.out(typeof answer === 'string' ? (answer.endsWith('\n') ? answer : `${answer}\n`) : `${JSON.stringify(answer, null, 2)}\n`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof ExpressMicroError)) throw error;
    context.error(`express-micro call: ${errorLine(error)}\n`);
    return EXIT.failed;
  }
}

/** The `call` command. */
export const callCommand: Command = {
  name: 'call',
  summary: 'make a services call from the command line and print the answer',
  help: HELP,
  run,
};
