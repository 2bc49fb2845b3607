import type { TlsMaterial } from '../tls/index.ts';

/** One outgoing HTTP request, as the runtime's HTTP client takes it. */
export interface HttpRequest {
  /** `http://host:port`, no trailing slash. */
  origin: string;
  /** Path with query, starting with `/`. */
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: RequestBody | undefined;
  /**
   * Milliseconds until the request fails with a timeout. For a streamed answer (`stream`), the
   * time until its status and headers are in; the body is then read at the reader's pace.
   */
  timeout: number;
  signal?: AbortSignal | undefined;
  /** A 2xx answer is handed over as a stream once its headers are in, not read whole. */
  stream?: boolean | undefined;
  /**
   * The most bytes of a 2xx answer read whole; past it the request fails with `too-large`.
   * Default: no limit. Any other answer keeps its first {@link ERROR_BODY_LIMIT} bytes only.
   */
  maxBytes?: number | undefined;
}

/**
 * What a request may send: text, bytes, a Blob (read afresh for each send), or an async iterable
 * of byte chunks (a web ReadableStream or a Node Readable), which can be read only once.
 */
export type RequestBody = string | Uint8Array | Blob | AsyncIterable<Uint8Array>;

/** How much of an answer outside 2xx is kept (for the error that reports it): 64 KiB. */
export const ERROR_BODY_LIMIT: number = 64 * 1024;

/**
 * A response. `bytes` holds the body as read (empty when it is streamed); `body` is those bytes
 * decoded as UTF-8, decoded when read. `stream` is set for a 2xx answer to a `stream` request.
 */
export interface HttpResponse {
  readonly status: number;
  /** The `content-type` header, or `''`. */
  readonly contentType: string;
  /** The body's exact bytes. */
  readonly bytes: Uint8Array;
  /** The body as UTF-8 text. */
  readonly body: string;
  /** The body, read at the reader's pace (a `stream` request with a 2xx answer only). */
  readonly stream?: ReadableStream<Uint8Array> | undefined;
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** A response whose body was read whole; its text is decoded on first read. */
export class BufferedResponse implements HttpResponse {
  readonly status: number;
  readonly contentType: string;
  readonly bytes: Uint8Array;
  /** Set for a streamed answer. */
  readonly stream: ReadableStream<Uint8Array> | undefined;
  /** Made by an {@link HttpClient} once the body is in (or once the headers are, for a stream). */
  constructor(status: number, contentType: string, bytes: Uint8Array, stream?: ReadableStream<Uint8Array>) {
    this.status = status;
    this.contentType = contentType;
    this.bytes = bytes;
    this.stream = stream;
  }
  /** The bytes as UTF-8. */
  get body(): string {
    return utf8.decode(this.bytes);
  }
}

/**
 * Why a request got no response. `connect`: no connection could be made, so the request was
 * certainly not processed. `reset`: the connection broke after the request may have been sent.
 * `timeout`: no answer in time. `abort`: the caller's signal fired. `too-large`: the answer was
 * longer than the request's `maxBytes`.
 */
export type TransportFailure = 'connect' | 'reset' | 'timeout' | 'abort' | 'too-large';

/**
 * Thrown by an {@link HttpClient} when a request got no response. `handshake` is true for a
 * `connect` failure in TLS (the peer's certificate did not verify, or it refused ours).
 */
export class TransportError extends Error {
  override readonly name: string = 'TransportError';
  readonly kind: TransportFailure;
  readonly handshake: boolean;
  constructor(kind: TransportFailure, message: string, options?: { cause?: unknown; handshake?: boolean }) {
    super(message, options);
    this.kind = kind;
    this.handshake = options?.handshake ?? false;
  }
}

/** Keep-alive HTTP client: one per plugin instance, closed by `close()`. */
export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResponse>;
  /**
   * Replaces the TLS material of a client made with it: new connections use the new one, and
   * connections already open finish what they carry, then close.
   */
  updateTls(tls: TlsMaterial): void;
  close(): Promise<void>;
}
