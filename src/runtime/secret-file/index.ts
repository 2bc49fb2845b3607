import { closeSync, constants, fstatSync, linkSync, lstatSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomHex } from '../crypto/index.ts';

/** Thrown when the secret file exists but must not be trusted; the message says why and where. */
export class SecretFileError extends Error {
  override readonly name: string = 'SecretFileError';
}

/** Where services of the current user on this machine share their secret. */
export function defaultSecretPath(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  return join(tmpdir(), `express-micro-${uid ?? 'user'}.key`);
}

/** Raised while the file has a second hard link, which our own creation has for an instant. */
class LinkedSecretFileError extends SecretFileError {}

const MIN_LENGTH = 32;
/**
 * How long a reader keeps looking while a creator's temporary link still exists. A time, not a
 * count: the creator is another process, which a busy machine may not run for a while between
 * its link and its unlink (1,000 tight retries ran out under a full test suite).
 */
const LINK_SETTLE_MS = 1000;
const pause = new Int32Array(new SharedArrayBuffer(4));

function readSettled(path: string): string {
  const giveUp = Date.now() + LINK_SETTLE_MS;
  for (;;) {
    try {
      return readTrusted(path);
    } catch (error) {
      if (!(error instanceof LinkedSecretFileError) || Date.now() >= giveUp) throw error;
      // Start-up only, and synchronous like the rest of this file: sleep a millisecond, no spin.
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

function readTrusted(path: string): string {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) throw new SecretFileError(`secret file ${path} is a symbolic link; refusing to follow it`);
  if (!stat.isFile()) throw new SecretFileError(`secret file ${path} is not a regular file`);
  // O_NOFOLLOW closes the window between lstat and open in which a link could be planted;
  // O_NONBLOCK keeps a FIFO swapped in during that window from hanging the open.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  try {
    const opened = fstatSync(fd);
    if (!opened.isFile()) throw new SecretFileError(`secret file ${path} is not a regular file`);
    // A second name for the file could be someone else's hard link to one of our private files
    // (an SSH key, say), which would then be sent around as the secret.
    if (opened.nlink > 1) throw new LinkedSecretFileError(`secret file ${path} has ${opened.nlink} hard links; it must have one`);
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    if (uid !== undefined && opened.uid !== uid) {
      throw new SecretFileError(`secret file ${path} belongs to uid ${opened.uid}, not to the current user (uid ${uid})`);
    }
    if (uid !== undefined && (opened.mode & 0o077) !== 0) {
      throw new SecretFileError(
        `secret file ${path} is readable or writable by others (mode ${(opened.mode & 0o777).toString(8)}); it must be 600`,
      );
    }
    const secret = readFileSync(fd, 'utf8').trim();
    if (secret.length < MIN_LENGTH) throw new SecretFileError(`secret file ${path} holds fewer than ${MIN_LENGTH} characters`);
    return secret;
  } finally {
    closeSync(fd);
  }
}

function isMissing(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === 'ENOENT';
}

/**
 * Reads the secret shared by this user's services on this machine, creating it if no service
 * has yet. Creation is atomic: the secret is written in full to a private temporary file that
 * is then hard-linked into place, which fails if another service got there first, so a reader
 * never sees a half-written file and a race ends with one secret.
 */
export function readOrCreateSecretFile(path: string = defaultSecretPath()): string {
  try {
    return readSettled(path);
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  const temporary = `${path}.${randomHex(8)}.tmp`;
  writeFileSync(temporary, `${randomHex(32)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as { code?: string } | null)?.code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  return readSettled(path);
}
