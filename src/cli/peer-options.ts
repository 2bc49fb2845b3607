/**
 * The options every command that reads a running cluster shares (`status`, `watch`, `call`,
 * `dashboard`): which peers to ask and how to authenticate, parsed the same way everywhere.
 */
import { absolutePath, isFile, readTextFile } from '../runtime/files/index.ts';
import { readTlsMaterial, TlsMaterialError, type TlsMaterial } from '../runtime/index.ts';
import type { GivenOption, OptionSpec } from './args.ts';
import { CliError } from './errors.ts';
import { DEFAULT_PEER, PEER_TIMEOUT_MS, peerOrigin } from './peer.ts';

/** The option specs to spread into a command's own. */
export const PEER_OPTION_SPECS: Readonly<Record<string, OptionSpec>> = {
  help: { kind: 'boolean' },
  peer: { kind: 'string', repeatable: true },
  'secret-file': { kind: 'string' },
  hmac: { kind: 'boolean' },
  ca: { kind: 'string' },
  cert: { kind: 'string' },
  key: { kind: 'string' },
};

/** Which peers to ask, and how. */
export interface PeerOptions {
  /** Origins, without duplicates; {@link DEFAULT_PEER} when no `--peer` is given. */
  readonly peers: readonly string[];
  /** Absolute path of `--secret-file`. */
  readonly secretFile: string | undefined;
  readonly hmac: boolean;
  /** `--ca`, `--cert` and `--key`, read and checked as the library checks its `tls` option. */
  readonly tls: TlsMaterial | undefined;
}

/**
 * `--ca FILE`, `--cert FILE` and `--key FILE` (PEM, relative to `cwd`) as TLS material for a
 * cluster that uses `tls`, or undefined when none is given. Bad material is a {@link CliError}
 * naming the flag, as `expressMicro()` names the option.
 */
export function readTlsOptions(given: readonly GivenOption[], cwd: string): TlsMaterial | undefined {
  const pem: Record<string, string> = {};
  const files: Record<string, string> = {};
  for (const { name, value } of given) {
    if ((name !== 'ca' && name !== 'cert' && name !== 'key') || typeof value !== 'string') continue;
    files[name] = absolutePath(cwd, value);
    const text = readTextFile(files[name]);
    if (text === undefined) throw new CliError(`--${name} ${files[name]}: no such file`);
    pem[name] = text;
  }
  if (Object.keys(pem).length === 0) return undefined;
  if (pem.ca === undefined) throw new CliError("--cert and --key need --ca: the CA the cluster's certificates are checked against");
  try {
    return readTlsMaterial(pem);
  } catch (error) {
    if (!(error instanceof TlsMaterialError)) throw error;
    // The library names `tls.key` and friends; here they are flags (an encrypted key is --key's).
    const flag = error.field === 'tls.passphrase' ? 'key' : error.field.replace(/^tls\.?/, '') || 'ca';
    const message = error.field === 'tls.passphrase' ? 'is encrypted: give the key without its passphrase' : error.message.replace(/tls\.(ca|cert|key)/g, '--$1');
    throw new CliError(`--${flag} ${files[flag] ?? ''}: ${message}`);
  }
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
  return { peers: peers.length === 0 ? [DEFAULT_PEER] : [...new Set(peers)], secretFile, hmac: given.some((option) => option.name === 'hmac'), tls: readTlsOptions(given, cwd) };
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
  --ca FILE           for a cluster with \`tls\`: the CA its certificates are checked against (PEM);
  --cert FILE         with --key, the client certificate to present (mutual TLS).
  --key FILE
  Each peer has ${PEER_TIMEOUT_MS / 1000} s to answer.`;
