/**
 * The options every command that reads a running cluster shares (`status`, `watch`, `call`,
 * `dashboard`): which peers to ask and how to authenticate, parsed the same way everywhere.
 */
import { absolutePath, isFile } from '../runtime/files/index.ts';
import type { GivenOption, OptionSpec } from './args.ts';
import { CliError } from './errors.ts';
import { DEFAULT_PEER, PEER_TIMEOUT_MS, peerOrigin } from './peer.ts';

/** The option specs to spread into a command's own. */
export const PEER_OPTION_SPECS: Readonly<Record<string, OptionSpec>> = {
  help: { kind: 'boolean' },
  peer: { kind: 'string', repeatable: true },
  'secret-file': { kind: 'string' },
  hmac: { kind: 'boolean' },
};

/** Which peers to ask, and how. */
export interface PeerOptions {
  /** Origins, without duplicates; {@link DEFAULT_PEER} when no `--peer` is given. */
  readonly peers: readonly string[];
  /** Absolute path of `--secret-file`. */
  readonly secretFile: string | undefined;
  readonly hmac: boolean;
}

/** Reads `--peer`, `--secret-file` and `--hmac` from parsed options (relative paths from `cwd`). */
export function readPeerOptions(given: readonly GivenOption[], cwd: string): PeerOptions {
  const peers: string[] = [];
  let secretFile: string | undefined;
  for (const { name, value } of given) {
    if (typeof value !== 'string') continue;
    if (name === 'peer') peers.push(peerOrigin(value));
    else if (name === 'secret-file') secretFile = absolutePath(cwd, value);
  }
  if (secretFile !== undefined && !isFile(secretFile)) throw new CliError(`--secret-file ${secretFile}: no such file`);
  return { peers: peers.length === 0 ? [DEFAULT_PEER] : [...new Set(peers)], secretFile, hmac: given.some((option) => option.name === 'hmac') };
}

/** A positive whole number of milliseconds from `--name`, at least `least`. */
export function readMilliseconds(name: string, value: string, least: number): number {
  if (!/^[0-9]{1,9}$/.test(value) || Number(value) < least) throw new CliError(`--${name} ${JSON.stringify(value)}: give a whole number of milliseconds, at least ${least}`);
  return Number(value);
}

/** The help text's paragraph on reaching the cluster, the same for every command. */
export const PEER_HELP: string = `Reaching the cluster (as the services do):
  --peer URL          a running service of the cluster. Repeatable: every one is asked and their
                      views merged. Default: ${DEFAULT_PEER}.
  --secret-file FILE  the secret file to read when EXPRESS_DISCOVERY_KEY is not set (default:
                      express-micro-<uid>.key in the temp folder, where services keep it).
  --hmac              sign requests (for a cluster with enableHmac: true).
  Each peer has ${PEER_TIMEOUT_MS / 1000} s to answer.`;
