/** The options of `express-micro dashboard`, parsed and checked. */
import { parseOptions, type OptionSpec } from '../../args.ts';
import { CliError } from '../../errors.ts';
import { PEER_OPTION_SPECS, readMilliseconds, readPeerOptions, type PeerOptions } from '../../peer-options.ts';

/** Where the cluster is, where the page is served, and how often it is refreshed. */
export interface DashboardOptions extends PeerOptions {
  readonly help: boolean;
  /** The local port (0: any free one). */
  readonly port: number;
  /** Between two reads of the cluster, ms. */
  readonly interval: number;
}

/** The port the page is served on when `--port` is not given. */
export const DEFAULT_PORT = 4000;
/** The refresh interval when `--interval` is not given, ms. */
export const DEFAULT_INTERVAL = 1000;
/** The shortest refresh interval, ms: faster would only load the peers. */
const MIN_INTERVAL = 100;

const SPEC: Readonly<Record<string, OptionSpec>> = {
  ...PEER_OPTION_SPECS,
  port: { kind: 'string' },
  interval: { kind: 'string' },
};

function port(value: string): number {
  const number = /^[0-9]{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= 0 && number <= 65535)) throw new CliError(`--port ${JSON.stringify(value)} must be a whole number from 0 to 65535`);
  return number;
}

/** Parses and checks the command line of `express-micro dashboard` (relative paths from `cwd`). */
export function parseDashboardOptions(argv: readonly string[], cwd: string): DashboardOptions {
  const given = parseOptions(argv, SPEC);
  const help = given.some((option) => option.name === 'help');
  const portOption = given.find((option) => option.name === 'port')?.value;
  const intervalOption = given.find((option) => option.name === 'interval')?.value;
  return {
    help,
    // --help answers even beside a bad option value, as the other commands do.
    ...(help ? { peers: [], secretFile: undefined, hmac: false, tls: undefined } : readPeerOptions(given, cwd)),
    port: typeof portOption === 'string' ? port(portOption) : DEFAULT_PORT,
    interval: typeof intervalOption === 'string' ? readMilliseconds('interval', intervalOption, MIN_INTERVAL) : DEFAULT_INTERVAL,
  };
}
