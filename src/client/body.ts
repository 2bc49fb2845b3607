/**
 * Raw request bodies (`{ body }` on a call; docs/bodies.md): what can be sent, with which content
 * type, and whether it can be sent again. Bytes, text and Blobs are replayable; a stream is read
 * once, so the call path never retries it after it started, never hedges it and never buffers it.
 */
import { OptionError } from '../errors/index.ts';
import type { RequestBody } from '../runtime/index.ts';
import type { CallBody } from './types.ts';

const DEFAULT_TYPE = 'application/octet-stream';

/**
 * A stream body, read at most once. It records whether the transport started reading it (after
 * which a failed send cannot be repeated) and whether the stream itself failed (which is the
 * caller's fault, not the instance's).
 */
export class OnceBody implements AsyncIterable<Uint8Array> {
  /** The transport began to read it. */
  started = false;
  /** The stream threw while it was read; the error is `failure`. */
  failed = false;
  /** What the stream threw. */
  failure: unknown = undefined;
  readonly #source: AsyncIterable<Uint8Array | string>;

  /** Wraps a web ReadableStream, a Node Readable or any async iterable of chunks. */
  constructor(source: AsyncIterable<Uint8Array | string>) {
    this.#source = source;
  }

  /** The chunks, each a Uint8Array (a Node stream with an encoding gives strings: re-encoded). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    this.started = true;
    try {
      for await (const chunk of this.#source) yield typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    } catch (error) {
      this.failed = true;
      this.failure = error;
      throw error;
    }
  }
}

const encoder = new TextEncoder();

/** A raw body ready to send: what goes on the wire, its content type, and what signing hashes. */
export interface RawBody {
  readonly payload: RequestBody;
  readonly contentType: string;
  /** Set when the body is a stream: sent once at most. */
  readonly once: OnceBody | undefined;
}

function isAsyncIterable(value: object): value is AsyncIterable<Uint8Array | string> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'no prototype'})`;
  return `a ${typeof value}`;
}

/** The `content-type` of `headers`, whatever its case, or undefined. */
function contentTypeOf(headers: Record<string, string> | undefined): string | undefined {
  if (headers === undefined) return undefined;
  for (const name in headers) if (name.toLowerCase() === 'content-type') return headers[name];
  return undefined;
}

/**
 * Checks and wraps a call's `body` before anything is sent: throws {@link OptionError} (option
 * `body`) for a type it cannot send, or for a GET or HEAD, which carry no body.
 */
export function rawBody(body: unknown, method: string, headers: Record<string, string> | undefined): RawBody {
  if (method === 'GET' || method === 'HEAD') throw new OptionError('body', `cannot be sent with ${method}: use a POST, PUT, PATCH or DELETE route`);
  const given = contentTypeOf(headers);
  if (typeof body === 'string' || body instanceof Uint8Array) return { payload: body, contentType: given ?? DEFAULT_TYPE, once: undefined };
  if (body instanceof ArrayBuffer) return { payload: new Uint8Array(body), contentType: given ?? DEFAULT_TYPE, once: undefined };
  if (ArrayBuffer.isView(body)) return { payload: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), contentType: given ?? DEFAULT_TYPE, once: undefined };
  if (body instanceof Blob) return { payload: body, contentType: given ?? (body.type || DEFAULT_TYPE), once: undefined };
  // A web ReadableStream, a Node Readable (recognised by its async iterator: no node:* import
  // here), or any async iterable of chunks.
  if (typeof body === 'object' && body !== null && isAsyncIterable(body)) {
    const once = new OnceBody(body);
    return { payload: once, contentType: given ?? DEFAULT_TYPE, once };
  }
  const hint = typeof body === 'object' && body !== null ? '; to send JSON, pass the fields as the call\'s arguments' : '';
  throw new OptionError('body', `must be a Uint8Array, ArrayBuffer, Blob, string or readable stream, got ${describe(body)}${hint}`);
}

/** The headers of a call with a raw body: the caller's, without any `content-type` of theirs (set once, in lower case, by the call). */
export function withoutContentType(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  const copy: Record<string, string> = {};
  for (const name in headers) if (name.toLowerCase() !== 'content-type') copy[name] = headers[name] as string;
  return copy;
}

/**
 * What signing hashes for a raw body (HMAC, docs/bodies.md): text and bytes as they are, a Blob
 * read into memory. A stream cannot be signed without holding it whole, which is what a stream is
 * for avoiding; it is refused before anything is sent.
 */
export async function signedBytes(body: RawBody): Promise<string | Uint8Array> {
  if (body.once !== undefined) {
    throw new OptionError(
      'body',
      'is a stream, and enableHmac signs the SHA-256 of every body before it is sent, which a stream would have to be held whole in memory for: send it as a Uint8Array or Blob to have it signed, or stream it from an instance without enableHmac (docs/bodies.md, "Signed calls")',
    );
  }
  const payload = body.payload;
  if (payload instanceof Blob) return new Uint8Array(await payload.arrayBuffer());
  return payload as string | Uint8Array;
}
