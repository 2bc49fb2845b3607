import { isHandshakeFailure, type TlsMaterial } from '../tls/index.ts';
import { BufferedResponse, ERROR_BODY_LIMIT, TransportError, type HttpClient, type HttpRequest, type HttpResponse, type RequestBody } from './types.ts';

const EMPTY = new Uint8Array(0);

/** The body as fetch takes it: an async iterable (a Node Readable) becomes a web stream. */
function outgoing(body: RequestBody | undefined): RequestInit['body'] | undefined {
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array || body instanceof Blob || body instanceof ReadableStream) return body as RequestInit['body'] | undefined;
  const iterator = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await iterator.return?.(reason);
    },
  });
}

/**
 * Reads `stream` whole, failing with `too-large` past `limit` bytes, or, with `truncate`, keeping
 * only its first `limit` bytes and cancelling the rest.
 */
export async function readBounded(stream: ReadableStream<Uint8Array> | null, limit: number, truncate: boolean): Promise<Uint8Array> {
  if (stream === null) return EMPTY;
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
    if (received > limit) {
      await reader.cancel().catch(() => undefined);
      if (!truncate) throw new TransportError('too-large', `the answer is larger than ${limit} bytes`);
      chunks.push(value.subarray(0, value.byteLength - (received - limit)));
      received = limit;
      break;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const whole = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole;
}

/** Turns what fetch threw into a {@link TransportError} of the right kind. */
export function classify(error: unknown, request: HttpRequest, timeout: AbortSignal): TransportError {
  if (request.signal?.aborted) return new TransportError('abort', 'request aborted', { cause: error });
  if (timeout.aborted) return new TransportError('timeout', `no answer within ${request.timeout} ms`, { cause: error });
  // Bun puts the code on the error's cause (`ECONNREFUSED: Unable to connect…`); Deno throws
  // TypeError('fetch failed') whose cause's message names the failed step (`client error
  // (Connect): tcp connect error: Connection refused`). Read codes and messages down the chain.
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 3 && current !== null && typeof current === 'object'; depth++) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string' && !(typeof message === 'string' && message.includes(code))) parts.push(code);
    if (typeof message === 'string' && message !== '') parts.push(message);
    current = cause;
  }
  const text = parts.join(': ') || String(error);
  if (isHandshakeFailure(text)) return new TransportError('connect', `the TLS handshake failed (${text})`, { cause: error, handshake: true });
  if (/ECONNREFUSED|refused|unable to connect|client error \(Connect\)|tcp connect error/i.test(text)) {
    return new TransportError('connect', `cannot connect (${text})`, { cause: error });
  }
  return new TransportError('reset', `connection failed (${text})`, { cause: error });
}

/** Deno's own HTTP client, which fetch takes as `client` (its way to set CAs and a client certificate). */
interface DenoHttpClient {
  close(): void;
}

interface DenoNamespace {
  createHttpClient(options: { caCerts: string[]; cert?: string; key?: string }): DenoHttpClient;
}

/** One TLS setting of fetch's, and the requests in flight on it (Deno's client closes when they end). */
interface TlsSetting {
  /** What goes into fetch's init: Bun's `tls`, or Deno's `client`. */
  readonly init: Record<string, unknown>;
  readonly client: DenoHttpClient | undefined;
  inFlight: number;
  retired: boolean;
}

function tlsSetting(tls: TlsMaterial): TlsSetting {
  const deno = (globalThis as { Deno?: DenoNamespace }).Deno;
  if (deno) {
    const client = deno.createHttpClient({ caCerts: [...tls.ca], ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}) });
    return { init: { client }, client, inFlight: 0, retired: false };
  }
  return { init: { tls: { ca: [...tls.ca], cert: tls.cert, key: tls.key } }, client: undefined, inFlight: 0, retired: false };
}

function release(setting: TlsSetting): void {
  if (setting.retired && setting.inFlight === 0) setting.client?.close();
}

/**
 * Bun and Deno: the global fetch, which keeps connections alive by itself. With `tls`, peers are
 * verified against its CAs and its certificate is presented: Bun takes them as fetch's `tls`,
 * Deno through a client of its own (`Deno.createHttpClient`).
 */
export function createFetchClient(tls?: TlsMaterial): HttpClient {
  let setting = tls ? tlsSetting(tls) : undefined;
  return {
    async request(request): Promise<HttpResponse> {
      // A streamed answer's timeout bounds the wait for its headers only: its own timer, cleared then.
      const headers = request.stream ? new AbortController() : undefined;
      const timer = headers ? setTimeout(() => headers.abort(new Error('timeout')), request.timeout) : undefined;
      const timeout = headers ? headers.signal : AbortSignal.timeout(request.timeout);
      const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
      const current = setting;
      if (current) current.inFlight++;
      try {
        const body = outgoing(request.body);
        const response = await fetch(request.origin + request.path, {
          method: request.method,
          headers: request.headers,
          body,
          signal,
          redirect: 'manual',
          // A stream is sent as it is read (fetch refuses a stream body without it).
          ...(body instanceof ReadableStream ? { duplex: 'half' } : undefined),
          ...current?.init,
        });
        if (timer !== undefined) clearTimeout(timer);
        const contentType = response.headers.get('content-type') ?? '';
        const success = response.status >= 200 && response.status <= 299;
        // A streamed answer: fetch's own body stream, which pulls from the socket as it is read.
        if (success && request.stream && response.body !== null) return new BufferedResponse(response.status, contentType, EMPTY, response.body);
        const limit = success ? (request.maxBytes ?? Number.POSITIVE_INFINITY) : ERROR_BODY_LIMIT;
        const bytes = limit === Number.POSITIVE_INFINITY ? new Uint8Array(await response.arrayBuffer()) : await readBounded(response.body, limit, !success);
        return new BufferedResponse(response.status, contentType, bytes);
      } catch (error) {
        if (error instanceof TransportError) throw error;
        throw classify(error, request, timeout);
      } finally {
        if (timer !== undefined) clearTimeout(timer);
        if (current) {
          current.inFlight--;
          release(current);
        }
      }
    },
    updateTls(next) {
      const previous = setting;
      setting = tlsSetting(next);
      if (previous) {
        previous.retired = true;
        release(previous);
      }
    },
    // The runtime owns fetch's connection pool; only Deno's TLS client is ours to close.
    async close() {
      if (setting) {
        setting.retired = true;
        release(setting);
      }
    },
  };
}
