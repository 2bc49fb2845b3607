/**
 * Reading and writing the text files the `express-micro` command works with (a generated
 * declaration file, a service's source). Only the command imports this, so it is not exported
 * from runtime/index.ts and stays out of the library's module graph.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { randomHex } from '../crypto/index.ts';

/** A file operation failed; `code` is the system's (`ENOENT`, `EACCES`, …) when there is one. */
export class FileError extends Error {
  override readonly name: string = 'FileError';
  readonly code: string;
  readonly path: string;
  constructor(path: string, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
    this.code = code;
  }
}

function fail(path: string, action: string, error: unknown): FileError {
  const code = (error as { code?: unknown } | null)?.code;
  const reason = code === 'ENOENT' ? 'no such file or folder' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (error as Error)?.message ?? String(error);
  return new FileError(path, typeof code === 'string' ? code : '', `cannot ${action} ${path}: ${reason}`, { cause: error });
}

/** The file's text (UTF-8), or `undefined` when there is no such file. */
export function readTextFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === 'ENOENT') return undefined;
    throw fail(path, 'read', error);
  }
}

/** Whether `path` names an existing regular file. */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Writes `text` to `path`, creating missing parent folders. The text goes to a temporary file
 * beside it that is then renamed into place, so a reader (an editor, `tsc --watch`) never sees a
 * half-written file.
 */
export function writeTextFile(path: string, text: string): void {
  const temporary = `${path}.${randomHex(6)}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temporary, text, 'utf8');
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw fail(path, 'write', error);
  }
}

/** `path` made absolute against `base`. */
export function absolutePath(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

/** `path` relative to `base`, with `/` separators, for messages. */
export function relativePath(base: string, path: string): string {
  const result = relative(base, path).split('\\').join('/');
  return result === '' ? '.' : result;
}
