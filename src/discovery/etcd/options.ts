import { OptionError } from '../../errors/index.ts';
import type { Pem } from '../../options.ts';
import { readTlsMaterial, TlsMaterialError, type TlsMaterial } from '../../runtime/index.ts';

/**
 * TLS material for etcd's https endpoints, in PEM (the contents, not file names), checked as the
 * `tls` option is: every certificate must parse, the key must match, nothing expired.
 */
export interface EtcdTlsOptions {
  /** The certificate authorities etcd's certificate chains to. Default: the system's. */
  ca?: Pem | readonly Pem[];
  /** This instance's client certificate, when etcd asks for one (`--client-cert-auth`). */
  cert?: Pem;
  /** The private key of `cert`. */
  key?: Pem;
  /** The passphrase of an encrypted `key`. */
  passphrase?: string;
}

/** Register in etcd v3 (through its JSON gateway) instead of gossiping. */
export interface EtcdRegistryOptions {
  /** Selects the etcd registry. */
  type: 'etcd';
  /** etcd's client URLs (`http://10.0.0.1:2379`); when one does not answer, the next is used. */
  endpoints: string[];
  /** Where records live: each instance writes `<prefix><service>/<id>`. Default: `'/express-micro/'`. */
  prefix?: string;
  /**
   * Seconds a crashed instance's record outlives it (its lease's TTL; the instance renews it every
   * third of that). Default: 10.
   */
  ttl?: number;
  /** An etcd user, for clusters with authentication enabled (with `password`). */
  username?: string;
  /** The etcd user's password. */
  password?: string;
  /** CA, client certificate and key for `https:` endpoints. */
  tls?: EtcdTlsOptions;
}

/** Where membership comes from: SWIM gossip between the instances (the default), or etcd. */
export type RegistryOptions = { type: 'gossip' } | EtcdRegistryOptions;

/** The etcd registry after validation, with its defaults filled in. */
export interface ResolvedEtcdRegistry {
  type: 'etcd';
  endpoints: string[];
  prefix: string;
  ttl: number;
  credentials: { username: string; password: string } | undefined;
  tls: TlsMaterial | undefined;
}

/** The `registry` option after validation. */
export type ResolvedRegistry = { type: 'gossip' } | ResolvedEtcdRegistry;

const KEYS = ['type', 'endpoints', 'prefix', 'ttl', 'username', 'password', 'tls'];
const PREFIX = /^[A-Za-z0-9/._-]{1,200}$/;

function endpoint(value: unknown): string {
  if (typeof value !== 'string') throw new OptionError('registry.endpoints', `must hold URL strings, got ${JSON.stringify(value)}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OptionError('registry.endpoints', `holds "${value}", which is not a URL (expected http://host:2379)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OptionError('registry.endpoints', `holds "${value}"; only http: and https: URLs are supported`);
  if (url.username || url.password) throw new OptionError('registry.endpoints', `holds "${url.origin}" with credentials; give registry.username and registry.password instead`);
  if (url.pathname !== '/' || url.search) throw new OptionError('registry.endpoints', `holds "${value}"; give the client URL only (http://host:port)`);
  return url.origin;
}

/** Validates the `registry` option; throws {@link OptionError} naming the bad field. */
export function resolveRegistry(value: unknown): ResolvedRegistry {
  if (value === undefined) return { type: 'gossip' };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OptionError('registry', `must be an object such as { type: 'etcd', endpoints: [...] }`);
  const given = value as Record<string, unknown>;
  if (given.type === 'gossip' && Object.keys(given).length === 1) return { type: 'gossip' };
  if (given.type !== 'etcd') throw new OptionError('registry.type', `must be 'gossip' or 'etcd', got ${JSON.stringify(given.type)}`);
  for (const key of Object.keys(given)) if (!KEYS.includes(key)) throw new OptionError('registry', `has no setting "${key}" (known: ${KEYS.join(', ')})`);
  if (!Array.isArray(given.endpoints) || given.endpoints.length === 0) throw new OptionError('registry.endpoints', 'must be a non-empty array of etcd client URLs');
  const endpoints = [...new Set(given.endpoints.map(endpoint))];
  const prefix = given.prefix ?? '/express-micro/';
  if (typeof prefix !== 'string' || !PREFIX.test(prefix) || !prefix.endsWith('/')) {
    throw new OptionError('registry.prefix', `must be up to 200 letters, digits, "/", ".", "_" or "-", ending with "/"; got ${JSON.stringify(prefix)}`);
  }
  const ttl = given.ttl ?? 10;
  // etcd rounds shorter leases up to its own minimum (1.5 × the election timeout).
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 2 || ttl > 3600) throw new OptionError('registry.ttl', `must be a whole number of seconds from 2 to 3600, got ${JSON.stringify(ttl)}`);
  const { username, password } = given;
  if (username !== undefined && (typeof username !== 'string' || username === '')) throw new OptionError('registry.username', 'must be a non-empty string');
  // Never echo the password, not even its type's value.
  if (password !== undefined && typeof password !== 'string') throw new OptionError('registry.password', 'must be a string');
  if ((username === undefined) !== (password === undefined)) throw new OptionError(username === undefined ? 'registry.username' : 'registry.password', 'must be given together with registry.username and registry.password');
  let tls: TlsMaterial | undefined;
  if (given.tls !== undefined) {
    if (!endpoints.some((url) => url.startsWith('https:'))) throw new OptionError('registry.tls', 'is given, but no endpoint is https:');
    try {
      tls = readTlsMaterial(given.tls, { field: 'registry.tls', systemCa: true });
    } catch (error) {
      if (error instanceof TlsMaterialError) throw new OptionError(error.field, error.message);
      throw error;
    }
  }
  return {
    type: 'etcd',
    endpoints,
    prefix,
    ttl,
    credentials: username === undefined ? undefined : { username: username as string, password: password as string },
    tls,
  };
}
