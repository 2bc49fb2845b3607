import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/**
 * Checked TLS material in the one shape every runtime's client takes: PEM strings, the key
 * decrypted (Deno's client takes no passphrase), so `passphrase` is used once, here.
 */
export interface TlsMaterial {
  /** Empty only where the system's authorities are allowed ({@link ReadTlsOptions.systemCa}). */
  readonly ca: readonly string[];
  readonly cert: string | undefined;
  readonly key: string | undefined;
}

/** Why TLS material was refused: `field` names it (`tls.ca`, `tls.cert`, `tls.key`, `tls.passphrase`). */
export class TlsMaterialError extends Error {
  override readonly name: string = 'TlsMaterialError';
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/** How {@link readTlsMaterial} reads: for peers (the default) or for a server such as etcd. */
export interface ReadTlsOptions {
  /** What the fields are called in errors: `tls` (default) or `registry.tls`. */
  field?: string;
  /** Whether `ca` may be left out, trusting the system's authorities (etcd's endpoints). Default: false. */
  systemCa?: boolean;
  /** The time certificates must not have expired by. Default: now. */
  now?: number;
}

/** Larger than any real certificate bundle; a bigger value is a mistake (or an attack), not PEM. */
const MAX_PEM_BYTES = 1024 * 1024;
const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function text(field: string, value: unknown): string {
  let pem: string;
  if (typeof value === 'string') pem = value;
  else if (value instanceof Uint8Array) pem = new TextDecoder().decode(value);
  else throw new TlsMaterialError(field, `must be PEM text (a string or a Buffer), got ${value === null ? 'null' : typeof value}`);
  if (pem.length > MAX_PEM_BYTES) throw new TlsMaterialError(field, `is ${pem.length} bytes; PEM material larger than ${MAX_PEM_BYTES} bytes is refused`);
  return pem;
}

/** Every certificate in `pem`, parsed; throws naming `field` when there is none or one is unreadable. */
function certificates(field: string, pem: string): X509Certificate[] {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) throw new TlsMaterialError(field, 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new TlsMaterialError(field, `holds a certificate that cannot be parsed (${(error as Error).message})`);
    }
  });
}

/**
 * Checks TLS options and turns them into {@link TlsMaterial}: every CA and certificate must
 * parse, a certificate needs its key and a key its certificate, the key must match the
 * certificate, and the certificate must not have expired. Throws {@link TlsMaterialError}.
 */
export function readTlsMaterial(input: unknown, options: ReadTlsOptions = {}): TlsMaterial {
  const field = options.field ?? 'tls';
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TlsMaterialError(field, 'must be an object { ca, cert?, key?, passphrase? }');
  const given = input as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!['ca', 'cert', 'key', 'passphrase'].includes(key)) throw new TlsMaterialError(`${field}.${key}`, 'is not a TLS option (known: ca, cert, key, passphrase)');
  }
  let authorities: string[] = [];
  if (given.ca !== undefined) {
    authorities = (Array.isArray(given.ca) ? given.ca : [given.ca]).map((value) => text(`${field}.ca`, value));
    if (authorities.length === 0) throw new TlsMaterialError(`${field}.ca`, 'must hold at least one certificate');
    for (const pem of authorities) certificates(`${field}.ca`, pem);
  } else if (options.systemCa !== true) {
    throw new TlsMaterialError(`${field}.ca`, 'is missing: peers are verified against it');
  }
  if (given.passphrase !== undefined && typeof given.passphrase !== 'string') throw new TlsMaterialError(`${field}.passphrase`, 'must be a string');
  if (given.cert === undefined && given.key === undefined) return { ca: authorities, cert: undefined, key: undefined };
  if (given.key === undefined) throw new TlsMaterialError(`${field}.key`, `is missing: ${field}.cert needs its private key`);
  if (given.cert === undefined) throw new TlsMaterialError(`${field}.cert`, `is missing: ${field}.key was given without its certificate`);
  const cert = text(`${field}.cert`, given.cert);
  const leaf = certificates(`${field}.cert`, cert)[0] as X509Certificate;
  if (Date.parse(leaf.validTo) < (options.now ?? Date.now())) throw new TlsMaterialError(`${field}.cert`, `expired on ${leaf.validTo}`);
  const keyText = text(`${field}.key`, given.key);
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyText);
  if (encrypted && given.passphrase === undefined) throw new TlsMaterialError(`${field}.passphrase`, `is missing: ${field}.key is encrypted`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyText, format: 'pem', passphrase: given.passphrase as string | undefined });
  } catch {
    throw encrypted ? new TlsMaterialError(`${field}.passphrase`, `does not decrypt ${field}.key`) : new TlsMaterialError(`${field}.key`, 'is not a PEM private key');
  }
  if (!leaf.checkPrivateKey(key)) throw new TlsMaterialError(`${field}.key`, `does not match ${field}.cert (it is the key of another certificate)`);
  return { ca: authorities, cert, key: key.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

/** The TLS error codes and messages of Node, Bun and Deno that mean the handshake failed. */
const HANDSHAKE = /ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|EPROTO|certificate|handshake|fatal alert|UnknownIssuer/i;

/** Whether a connection failure's text says the TLS handshake failed (not the TCP connect). */
export function isHandshakeFailure(text: string): boolean {
  return HANDSHAKE.test(text);
}
