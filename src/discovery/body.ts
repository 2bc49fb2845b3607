import type { IncomingRequest } from '../express.ts';

/** The most a discovery request body may hold: a thousand routes fit with room to spare. */
export const MAX_BODY_BYTES: number = 1024 * 1024;

/** Why a body could not be read. */
export type BodyFailure = 'too-large' | 'aborted';

/**
 * Reads a request body as text, stopping at `limit` bytes. A body an earlier parser in the app
 * already consumed is returned re-serialised (JSON.stringify of what it parsed), since the raw
 * bytes are gone.
 */
export function readBody(request: IncomingRequest, limit: number = MAX_BODY_BYTES): Promise<string | BodyFailure> {
  if (consumed(request)) return Promise.resolve(request.body === undefined ? '' : JSON.stringify(request.body));
  const declared = Number(request.headers['content-length']);
  if (declared > limit) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let settled = false;
    const finish = (value: string | BodyFailure): void => {
      if (settled) return;
      settled = true;
      resolve(value);
    };
    request.on('data', (chunk: Uint8Array | string) => {
      if (settled) return;
      const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
      size += bytes.byteLength;
      if (size > limit) {
        finish('too-large');
        return;
      }
      chunks.push(bytes);
    });
    request.on('end', () => finish(decode(chunks, size)));
    request.on('error', () => finish('aborted'));
    request.on('close', () => finish('aborted'));
  });
}

/** body-parser marks what it read with `_body`; a stream that has ended has nothing left to read. */
function consumed(request: IncomingRequest): boolean {
  const state = request as { _body?: boolean; readableEnded?: boolean };
  return state._body === true || state.readableEnded === true;
}

function decode(chunks: Uint8Array[], size: number): string {
  const joined = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(joined);
}
