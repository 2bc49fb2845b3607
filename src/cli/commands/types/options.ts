/** The options of `express-micro types`, parsed and checked (files exist, URLs parse). */
import { absolutePath, isFile } from '../../../runtime/files/index.ts';
import { parseOptions, type OptionSpec } from '../../args.ts';
import { CliError } from '../../errors.ts';
import { peerOrigin } from './peers.ts';

/** Where the file comes from, where it goes, and how to reach the cluster. */
export interface TypesOptions {
  readonly help: boolean;
  /** Peer origins to ask (`--peer`); the default peer when none is given. */
  readonly peers: readonly string[];
  /** Absolute path of `--out`, and as typed. */
  readonly out: { readonly path: string; readonly label: string } | undefined;
  readonly check: boolean;
  readonly secretFile: string | undefined;
  readonly hmac: boolean;
  readonly module: string;
}

/** Where a service listens when no `--peer` is given: the README's first example. */
export const DEFAULT_PEER = 'http://127.0.0.1:3000';

const SPEC: Readonly<Record<string, OptionSpec>> = {
  help: { kind: 'boolean' },
  peer: { kind: 'string', repeatable: true },
  out: { kind: 'string' },
  check: { kind: 'boolean' },
  'secret-file': { kind: 'string' },
  hmac: { kind: 'boolean' },
  module: { kind: 'string' },
};

/** Parses and checks the command line of `express-micro types`, relative to `cwd`. */
export function parseTypesOptions(argv: readonly string[], cwd: string): TypesOptions {
  const given = parseOptions(argv, SPEC);
  const help = given.some((option) => option.name === 'help');
  const peers: string[] = [];
  let out: TypesOptions['out'];
  let secretFile: string | undefined;
  let module = 'express-micro';
  for (const { name, value } of given) {
    if (typeof value !== 'string') continue;
    if (name === 'peer') peers.push(peerOrigin(value));
    else if (name === 'out') out = { path: absolutePath(cwd, value), label: value };
    else if (name === 'secret-file') secretFile = absolutePath(cwd, value);
    else if (name === 'module') module = value;
  }
  const check = given.some((option) => option.name === 'check');
  const hmac = given.some((option) => option.name === 'hmac');
  if (!help) {
    if (check && out === undefined) throw new CliError('--check compares the file given with --out; give --out');
    if (secretFile !== undefined && !isFile(secretFile)) throw new CliError(`--secret-file ${secretFile}: no such file`);
  }
  return {
    help,
    peers: peers.length === 0 ? [DEFAULT_PEER] : [...new Set(peers)],
    out,
    check,
    secretFile,
    hmac,
    module,
  };
}
