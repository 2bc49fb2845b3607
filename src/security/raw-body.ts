import type { IncomingRequest, RequestStream } from '../express.ts';

/** The most bytes `readRawBody` takes by default: 1 MiB. */
export const DEFAULT_BODY_LIMIT: number = 1024 * 1024;

/**
 * Whether something in front already read the body: body-parser 1 (Express 4) marks it with
 * `_body`, and a stream that has ended has nothing left to read (what body-parser 2 checks).
 */
export function bodyConsumed(request: IncomingRequest): boolean {
  const state = request as { _body?: boolean; readableEnded?: boolean };
  return state._body === true || state.readableEnded === true;
}

/** What reading a body gave: its bytes and their text, or why there is none. */
export type RawBodyResult =
  | { ok: true; text: string; bytes: Uint8Array }
  | { ok: false; status: 400 | 413; reason: string };

/**
 * How many bytes past its limit a body is still read, and thrown away, before the 413: a client
 * that sends its whole body before it reads the answer (`fetch` does) would otherwise see the
 * connection reset under it instead of the status. 16 MiB: a 200,000-route register is 7 MB.
 */
export const DISCARD_PAST_LIMIT: number = 16 * 1024 * 1024;

/**
 * Reads a request's body into a UTF-8 string, refusing past `limit` bytes. Past the limit it
 * keeps reading and throwing away up to {@link DISCARD_PAST_LIMIT} more bytes and resolves with
 * 413 when the body ends, so the client, done sending, reads the answer; a body declared
 * (`Content-Length`) or grown larger than that gets its 413 at once. A request that breaks off
 * resolves with status 400. Uses only the stream events that Node, Bun and Deno all emit.
 */
export function readRawBody(request: IncomingRequest, limit: number = DEFAULT_BODY_LIMIT): Promise<RawBodyResult> {
  const tooLarge: RawBodyResult = { ok: false, status: 413, reason: `body larger than ${limit} bytes` };
  const bound = limit + DISCARD_PAST_LIMIT;
  const declared = request.headers['content-length'];
  if (typeof declared === 'string' && /^[0-9]+$/.test(declared) && Number(declared) > bound) return Promise.resolve(tooLarge);
  const stream = request as IncomingRequest & RequestStream;
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let received = 0;
    let settled = false;
    const settle = (result: RawBodyResult): void => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      resolve(result);
    };
    stream.on('data', (chunk: Uint8Array | string) => {
      if (settled) return;
      received += typeof chunk === 'string' ? new TextEncoder().encode(chunk).byteLength : chunk.byteLength;
      if (received > bound) settle(tooLarge);
      else if (received > limit) chunks.length = 0;
      else chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk);
    });
    stream.on('end', () => {
      if (settled) return;
      if (received > limit) return settle(tooLarge);
      const whole = new Uint8Array(received);
      let offset = 0;
      for (const chunk of chunks) {
        whole.set(chunk, offset);
        offset += chunk.byteLength;
      }
      settle({ ok: true, text: new TextDecoder('utf-8', { ignoreBOM: true }).decode(whole), bytes: whole });
    });
    stream.on('aborted', () => settle({ ok: false, status: 400, reason: 'request aborted' }));
    stream.on('error', () => settle({ ok: false, status: 400, reason: 'request could not be read' }));
  });
}
