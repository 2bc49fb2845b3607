/** The options of `express-micro dashboard`, parsed and checked. */
import { parseOptions, type OptionSpec } from '../../args.ts';
import { CliError } from '../../errors.ts';
import { DEFAULT_PEER, peerOrigin } from '../../peer.ts';

/** Where the cluster is, where the page is served, and how often it is refreshed. */
export interface DashboardOptions {
  readonly help: boolean;
  /** Peer origins to read the cluster from; the default peer when none is given. */
  readonly peers: readonly string[];
  /** The local port (0: any free one). */
  readonly port: number;
  /** Between two reads of the cluster, ms. */
  readonly interval: number;
  readonly secretFile: string | undefined;
  readonly hmac: boolean;
}

/** The port the page is served on when `--port` is not given. */
export const DEFAULT_PORT = 4000;
/** The refresh interval when `--interval` is not given, ms. */
export const DEFAULT_INTERVAL = 1000;

const SPEC: Readonly<Record<string, OptionSpec>> = {
  help: { kind: 'boolean' },
  peer: { kind: 'string', repeatable: true },
  port: { kind: 'string' },
  interval: { kind: 'string' },
  'secret-file': { kind: 'string' },
  hmac: { kind: 'boolean' },
};

function integer(name: string, value: string, min: number, max: number): number {
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max)) throw new CliError(`--${name} ${JSON.stringify(value)} must be a whole number from ${min} to ${max}`);
  return number;
}

/** Parses and checks the command line of `express-micro dashboard`. */
export function parseDashboardOptions(argv: readonly string[]): DashboardOptions {
  const given = parseOptions(argv, SPEC);
  const peers: string[] = [];
  let port = DEFAULT_PORT;
  let interval = DEFAULT_INTERVAL;
  let secretFile: string | undefined;
  for (const { name, value } of given) {
    if (typeof value !== 'string') continue;
    if (name === 'peer') peers.push(peerOrigin(value));
    else if (name === 'port') port = integer('port', value, 0, 65535);
    else if (name === 'interval') interval = integer('interval', value, 100, 3_600_000);
    else if (name === 'secret-file') secretFile = value;
  }
  return {
    help: given.some((option) => option.name === 'help'),
    peers: peers.length > 0 ? [...new Set(peers)] : [DEFAULT_PEER],
    port,
    interval,
    secretFile,
    hmac: given.some((option) => option.name === 'hmac'),
  };
}
