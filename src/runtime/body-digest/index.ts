import { Buffer } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';

/**
 * The SHA-256 of a request's body, taken as whoever reads the body reads it (a body parser, or
 * `requireSignature()` itself). See docs/security.md, "Signed calls and body parsers".
 */
export interface BodyDigest {
  /** Bytes seen so far. */
  readonly bytes: number;
  /** True once the stream emitted `end`: every byte went past, and `hex()` is the whole body's. */
  readonly ended: boolean;
  /** The hex SHA-256 of the bytes seen (call it once `ended`; it can be called more than once). */
  hex(): string;
}

/** The request as the three runtimes' node:http hands it over: an event emitter. */
interface Emitting {
  emit(event: string | symbol, ...args: unknown[]): boolean;
  readableEnded?: boolean;
}

class Digest implements BodyDigest {
  bytes = 0;
  ended = false;
  #hash: Hash | undefined = createHash('sha256');
  #hex: string | undefined;

  update(chunk: unknown): void {
    if (this.#hash === undefined) return;
    // A Buffer (a Uint8Array) on every runtime; a string only after `setEncoding`, whose text is
    // hashed as UTF-8 (valid UTF-8 gives the bytes back; anything else no longer matches: refused).
    if (typeof chunk === 'string') {
      this.bytes += Buffer.byteLength(chunk);
      this.#hash.update(chunk, 'utf8');
    } else if (chunk instanceof Uint8Array) {
      this.bytes += chunk.byteLength;
      this.#hash.update(chunk);
    }
  }

  hex(): string {
    if (this.#hex === undefined) {
      this.#hex = (this.#hash ?? createHash('sha256')).digest('hex');
      this.#hash = undefined;
    }
    return this.#hex;
  }
}

const digests = new WeakMap<object, Digest>();

/**
 * Starts hashing `request`'s body as it is read, by whoever reads it: every byte leaves a
 * readable stream through a `'data'` emit (flowing mode, `read()`, `pipe`, async iteration; on
 * Node, Bun and Deno alike, whose node:http requests are node:stream Readables), so the request's
 * own `emit` is wrapped. Nothing is buffered, the stream's mode is not changed, and nothing is
 * read that the reader would not read. Call it before anything reads the body; a second call
 * returns the first digest.
 */
export function digestBodyAsRead(request: object): BodyDigest {
  const known = digests.get(request);
  if (known !== undefined) return known;
  const digest = new Digest();
  digests.set(request, digest);
  const stream = request as Emitting;
  // Nothing has read it yet, so an ended stream had no body.
  if (stream.readableEnded === true) {
    digest.ended = true;
    return digest;
  }
  const emit = stream.emit;
  stream.emit = function emitHashed(this: Emitting, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') digest.update(args[0]);
    // Before the listeners run: a body parser calls `next()` from its `end` listener.
    else if (event === 'end') digest.ended = true;
    return emit.call(this, event, ...args);
  };
  return digest;
}

/** The digest `digestBodyAsRead` started for `request`, if it did. */
export function bodyDigestOf(request: object): BodyDigest | undefined {
  return digests.get(request);
}
