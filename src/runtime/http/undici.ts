import type { Agent } from 'undici';
import { isHandshakeFailure, type TlsMaterial } from '../tls/index.ts';
import { ERROR_BODY_LIMIT, TransportError, type HttpClient, type HttpRequest, type HttpResponse, type RequestBody } from './types.ts';

const EMPTY: Buffer = Buffer.alloc(0);

/** How many bytes a streamed answer queues before the socket is paused: 1 MiB. */
const STREAM_HIGH_WATER_MARK = 1024 * 1024;

/**
 * A response on Node: its body is a Buffer, decoded with Buffer's own UTF-8 decoder when read as
 * text. A class of its own (no super call) with every field set in one shape: one per call.
 */
class NodeResponse implements HttpResponse {
  readonly status: number;
  readonly contentType: string;
  readonly bytes: Buffer;
  readonly stream: ReadableStream<Uint8Array> | undefined;
  constructor(status: number, contentType: string, bytes: Buffer, stream?: ReadableStream<Uint8Array>) {
    this.status = status;
    this.contentType = contentType;
    this.bytes = bytes;
    this.stream = stream;
  }
  get body(): string {
    return this.bytes.toString('utf8');
  }
}

/**
 * The body as undici's dispatch takes it: a Blob is sent as its stream (read afresh per send).
 * dispatch also takes an async iterable, though its types do not say so.
 */
function outgoing(body: RequestBody | undefined): string | Uint8Array | AsyncIterable<Uint8Array> | undefined {
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof Blob) return body.stream() as unknown as AsyncIterable<Uint8Array>;
  return body;
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function errorCode(error: unknown): string {
  let current: unknown = error;
  // undici wraps the socket error in `cause` for some failures.
  for (let depth = 0; depth < 3 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return (error as { code?: string } | null)?.code ?? '';
}

function classify(error: unknown, request: HttpRequest, timedOut: boolean): TransportError {
  if (error instanceof TransportError) return error;
  if (request.signal?.aborted) return new TransportError('abort', 'request aborted', { cause: error });
  const code = errorCode(error);
  if (timedOut || TIMEOUT_CODES.has(code)) return new TransportError('timeout', `no answer within ${request.timeout} ms`, { cause: error });
  if ((error as { name?: string } | null)?.name === 'AbortError') return new TransportError('abort', 'request aborted', { cause: error });
  if (CONNECT_CODES.has(code)) return new TransportError('connect', `cannot connect (${code})`, { cause: error });
  if (isHandshakeFailure(`${code} ${(error as Error)?.message ?? ''}`)) {
    return new TransportError('connect', `the TLS handshake failed (${[code, (error as Error)?.message].filter(Boolean).join(': ')})`, { cause: error, handshake: true });
  }
  return new TransportError('reset', `connection failed (${code || (error as Error)?.message || 'unknown'})`, { cause: error });
}

/**
 * Node: undici's Agent keeps one keep-alive pool per origin. undici is imported when this client is
 * created, not with the module, so that Bun and Deno, which take the fetch client, never load it
 * (Bun replaces it with a stub). With `tls`, peers are verified against its CAs only, and its
 * certificate is presented (mutual TLS).
 */
export function createUndiciClient(tls?: TlsMaterial): HttpClient {
  let agent: Agent | undefined;
  let loading: Promise<Agent> | undefined;
  let material = tls;
  const create = (Agent: typeof import('undici').Agent): Agent =>
    new Agent({
      keepAliveTimeout: 10_000,
      // A server's keep-alive hint is honoured up to 3 minutes: discovery answers ask for up to
      // that (a member probes each other one every N − 1 intervals: src/runtime/keep-alive).
      keepAliveMaxTimeout: 180_000,
      connections: 64,
      connect: material ? { timeout: 5_000, ca: [...material.ca], cert: material.cert, key: material.key } : { timeout: 5_000 },
    });
  let AgentClass: typeof import('undici').Agent | undefined;
  const load = (): Promise<Agent> =>
    (loading ??= import('undici').then(({ Agent }) => {
      AgentClass = Agent;
      agent = create(Agent);
      return agent;
    }));
  // Loading undici takes ~170 ms of CPU (~135 ms of wall time) on a small VM. Started now, while
  // the app starts, it is not paid by the first ping or call, at the moment a member joins and
  // every other member starts talking to it (docs/performance.md, "Fleets of real
  // processes and the idle cost of a member").
  // A failed load is reported by the first request, as before.
  load().catch(() => {});

  /**
   * One request through `dispatch` with a handler of our own, not `request()`: no AbortController,
   * abort listener or body stream per call, and the body is collected as Buffers, kept as bytes
   * (decoded as text only when read as text). One deadline bounds the whole exchange, connect to
   * last byte (undici's headersTimeout and bodyTimeout are idle timers); it and the caller's
   * signal abort through the dispatch controller. The timer and the listener are released when
   * the request settles, so nothing outlives it. A `stream` request with a 2xx answer settles
   * once the headers are in, with a web stream fed from the handler: undici's socket is paused
   * while the stream's queue is full, so the reader's pace sets the transfer's (docs/bodies.md).
   */
  function send(client: Agent, request: HttpRequest): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      let abort: ((reason: Error) => void) | undefined;
      let timedOut = false;
      let settled = false;
      let status = 0;
      let contentType = '';
      let received = 0;
      let limit = Number.POSITIVE_INFINITY;
      const chunks: Buffer[] = [];
      let sink: ReadableStreamDefaultController<Uint8Array> | undefined;
      let dispatch: { pause(): void; resume(): void; readonly paused: boolean } | undefined;
      const caller = request.signal;
      // Until undici hands over its abort function (when the request reaches a socket), the
      // promise is settled at once and the request is aborted as soon as it starts.
      const relay = (): void => (abort ? abort(caller?.reason as Error) : settle(caller?.reason));
      const timer = setTimeout(() => {
        timedOut = true;
        const error = new Error(`no answer within ${request.timeout} ms`);
        if (abort) abort(error);
        else settle(error);
      }, request.timeout);
      timer.unref?.();
      const release = (): void => caller?.removeEventListener('abort', relay);
      const settle = (error: unknown, response?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // A streamed answer still listens to the caller's signal until its body ends.
        if (sink === undefined) release();
        if (response) resolve(response);
        else reject(classify(error, request, timedOut));
      };
      if (caller?.aborted) return settle(caller.reason);
      caller?.addEventListener('abort', relay, { once: true });
      try {
        client.dispatch(
          {
            origin: request.origin,
            path: request.path,
            method: request.method as 'GET',
            headers: request.headers,
            body: outgoing(request.body) as string | Uint8Array | undefined,
            // The deadline above bounds the exchange; undici's own timers would only repeat it,
            // and they run on a 500 ms tick that wakes an idle process twice a second for as long
            // as any request is armed (about 1 ms of CPU per wakeup on a small VM). A streamed body
            // is read at its reader's pace; its reader bounds it (docs/bodies.md).
            headersTimeout: 0,
            bodyTimeout: 0,
          },
          {
            onRequestStart(controller) {
              abort = (reason) => controller.abort(reason);
              if (settled && sink === undefined) controller.abort(new Error('request already settled'));
            },
            onResponseStart(controller, statusCode, headers) {
              status = statusCode;
              const type = headers['content-type'];
              contentType = typeof type === 'string' ? type : '';
              const success = statusCode >= 200 && statusCode <= 299;
              if (!success) limit = ERROR_BODY_LIMIT;
              else if (request.maxBytes !== undefined) limit = request.maxBytes;
              if (!success || !request.stream) return;
              dispatch = controller;
              const body = new ReadableStream<Uint8Array>(
                {
                  start(streamController) {
                    sink = streamController;
                  },
                  pull() {
                    if (dispatch?.paused) dispatch.resume();
                  },
                  cancel(reason) {
                    sink = undefined;
                    release();
                    controller.abort(reason instanceof Error ? reason : new Error('stream cancelled by its reader'));
                  },
                },
                { highWaterMark: STREAM_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
              );
              settle(undefined, new NodeResponse(status, contentType, EMPTY, body));
            },
            onResponseData(controller, chunk) {
              if (sink !== undefined) {
                sink.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
                if ((sink.desiredSize ?? 1) <= 0) controller.pause();
                return;
              }
              received += chunk.byteLength;
              if (received > limit) {
                if (limit === ERROR_BODY_LIMIT) {
                  // An error answer keeps its first bytes; the rest is not worth reading.
                  chunks.push(chunk.subarray(0, chunk.byteLength - (received - limit)));
                  settle(undefined, new NodeResponse(status, contentType, Buffer.concat(chunks)));
                  controller.abort(new Error('error answer cut short'));
                } else {
                  const error = new TransportError('too-large', `the answer is larger than ${limit} bytes`);
                  settle(error);
                  controller.abort(error);
                }
                return;
              }
              chunks.push(chunk);
            },
            onResponseEnd() {
              if (sink !== undefined) {
                sink.close();
                sink = undefined;
                release();
                return;
              }
              settle(undefined, new NodeResponse(status, contentType, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
            },
            onResponseError(_controller, error) {
              if (sink !== undefined) {
                sink.error(classify(error, request, timedOut));
                sink = undefined;
                release();
                return;
              }
              settle(error);
            },
          },
        );
      } catch (error) {
        settle(error);
      }
    });
  }

  return {
    request(request) {
      return agent ? send(agent, request) : load().then((client) => send(client, request));
    },
    updateTls(next) {
      material = next;
      const previous = agent;
      // Not loaded yet: the first request's Agent takes the new material.
      if (!previous || !AgentClass) return;
      // New requests take a new Agent; the old one finishes what it carries, then closes.
      agent = create(AgentClass);
      loading = Promise.resolve(agent);
      void previous.close().catch(() => previous.destroy());
    },
    async close() {
      const current = agent;
      agent = undefined;
      loading = undefined;
      if (current) await current.close().catch(() => current.destroy());
    },
  };
}
