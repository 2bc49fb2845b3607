/**
 * Certificates made by the test with openssl (Debian's, on every machine of this project; .ci/run
 * installs it when missing): a CA, certificates for 127.0.0.1 good for both sides of mutual TLS,
 * and a second, unrelated CA with its own certificate. Made once per process in a temp folder,
 * removed on exit. No runner imports here: every runtime's suite uses it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One certificate and its key, PEM. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** What a TLS test works with. */
export interface Certificates {
  /** The cluster's CA. */
  ca: string;
  /** Two certificates the cluster's CA issued for 127.0.0.1 (server and client use). */
  node: KeyPair;
  other: KeyPair;
  /** `node`'s key, encrypted with the passphrase `correct horse`. */
  encryptedKey: string;
  /** A CA nobody in the cluster trusts, and a certificate it issued for 127.0.0.1. */
  strangerCa: string;
  stranger: KeyPair;
}

/** Whether openssl can be run here; a TLS test skips with one line where it cannot. */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let made: Certificates | undefined;

/** Makes the certificates (once per process). */
export function certificates(): Certificates {
  if (made) return made;
  const folder = mkdtempSync(join(tmpdir(), 'express-micro-tls-'));
  const path = (name: string) => join(folder, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: folder, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = (name: string) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path(`${name}.key`));
  try {
    writeFileSync(path('leaf.cnf'), 'subjectAltName=IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth,clientAuth\n');
    for (const ca of ['ca', 'stranger-ca']) {
      key(ca);
      openssl('req', '-x509', '-new', '-key', path(`${ca}.key`), '-out', path(`${ca}.pem`), '-days', '2', '-subj', `/CN=express-micro test ${ca}`);
    }
    for (const [leaf, ca] of [['node', 'ca'], ['other', 'ca'], ['stranger', 'stranger-ca']] as const) {
      key(leaf);
      openssl('req', '-new', '-key', path(`${leaf}.key`), '-out', path(`${leaf}.csr`), '-subj', '/CN=127.0.0.1');
      openssl('x509', '-req', '-in', path(`${leaf}.csr`), '-CA', path(`${ca}.pem`), '-CAkey', path(`${ca}.key`), '-CAcreateserial', '-out', path(`${leaf}.pem`), '-days', '2', '-extfile', path('leaf.cnf'));
    }
    openssl('pkcs8', '-topk8', '-in', path('node.key'), '-out', path('node.enc.key'), '-passout', 'pass:correct horse');
    const read = (name: string) => readFileSync(path(name), 'utf8');
    const pair = (name: string): KeyPair => ({ cert: read(`${name}.pem`), key: read(`${name}.key`) });
    made = { ca: read('ca.pem'), node: pair('node'), other: pair('other'), encryptedKey: read('node.enc.key'), strangerCa: read('stranger-ca.pem'), stranger: pair('stranger') };
    return made;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
