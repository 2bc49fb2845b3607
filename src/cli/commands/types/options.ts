/** The options of `express-micro types`, parsed and checked (files exist, URLs parse). */
import { absolutePath, isFile } from '../../../runtime/files/index.ts';
import { parseOptions, type OptionSpec } from '../../args.ts';
import { CliError } from '../../errors.ts';
import { DEFAULT_PEER, peerOrigin } from '../../peer.ts';
import { readTlsOptions } from '../../peer-options.ts';
import type { TlsMaterial } from '../../../runtime/index.ts';
import type { AppSource } from './source/index.ts';

/** Where the file comes from, where it goes, and how to reach the cluster. */
export interface TypesOptions {
  readonly help: boolean;
  /** Peer origins to ask (`--peer`); the default peer when neither `--peer` nor `--app` is given. */
  readonly peers: readonly string[];
  readonly apps: readonly AppSource[];
  /** Absolute path of `--out`, and as typed. */
  readonly out: { readonly path: string; readonly label: string } | undefined;
  readonly check: boolean;
  readonly secretFile: string | undefined;
  readonly hmac: boolean;
  /** `--ca`, `--cert`, `--key`, for a cluster that uses `tls`. */
  readonly tls: TlsMaterial | undefined;
  readonly module: string;
  /** `--no-events`: leave `EventRegistry` out (the project declares its events' payloads itself). */
  readonly noEvents: boolean;
}

const SPEC: Readonly<Record<string, OptionSpec>> = {
  help: { kind: 'boolean' },
  peer: { kind: 'string', repeatable: true },
  app: { kind: 'string', repeatable: true },
  name: { kind: 'string', repeatable: true },
  out: { kind: 'string' },
  check: { kind: 'boolean' },
  'secret-file': { kind: 'string' },
  hmac: { kind: 'boolean' },
  ca: { kind: 'string' },
  cert: { kind: 'string' },
  key: { kind: 'string' },
  module: { kind: 'string' },
  'no-events': { kind: 'boolean' },
};

/** Parses and checks the command line of `express-micro types`, relative to `cwd`. */
export function parseTypesOptions(argv: readonly string[], cwd: string): TypesOptions {
  const given = parseOptions(argv, SPEC);
  const help = given.some((option) => option.name === 'help');
  const peers: string[] = [];
  const apps: { file: string; label: string; name?: string }[] = [];
  let out: TypesOptions['out'];
  let secretFile: string | undefined;
  let module = 'express-micro';
  for (const { name, value } of given) {
    if (typeof value !== 'string') continue;
    if (name === 'peer') peers.push(peerOrigin(value));
    else if (name === 'app') apps.push({ file: absolutePath(cwd, value), label: value });
    else if (name === 'name') {
      const app = apps.at(-1);
      if (app === undefined) throw new CliError('--name names the service of the --app before it; give --app first');
      if (app.name !== undefined) throw new CliError(`--app ${app.label} has two --name`);
      app.name = value;
    } else if (name === 'out') out = { path: absolutePath(cwd, value), label: value };
    else if (name === 'secret-file') secretFile = absolutePath(cwd, value);
    else if (name === 'module') module = value;
  }
  const check = given.some((option) => option.name === 'check');
  const hmac = given.some((option) => option.name === 'hmac');
  if (!help) {
    if (check && out === undefined) throw new CliError('--check compares the file given with --out; give --out');
    for (const app of apps) if (!isFile(app.file)) throw new CliError(`--app ${app.label}: no such file`);
    if (secretFile !== undefined && !isFile(secretFile)) throw new CliError(`--secret-file ${secretFile}: no such file`);
    if (apps.length > 0 && peers.length === 0 && (secretFile !== undefined || hmac)) throw new CliError('--secret-file and --hmac are for --peer; --app reads no cluster');
  }
  return {
    help,
    peers: peers.length === 0 && apps.length === 0 ? [DEFAULT_PEER] : [...new Set(peers)],
    apps,
    out,
    check,
    secretFile,
    hmac,
    tls: help ? undefined : readTlsOptions(given, cwd),
    module,
    noEvents: given.some((option) => option.name === 'no-events'),
  };
}
