import type { TlsMaterial } from '../tls/index.ts';

/** One outgoing HTTP request, as the runtime's HTTP client takes it. */
export interface HttpRequest {
  /** `http://host:port`, no trailing slash. */
  origin: string;
  /** Path with query, starting with `/`. */
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  /** Milliseconds until the request fails with a timeout. */
  timeout: number;
  signal?: AbortSignal | undefined;
}

/** A complete response: the body is read to the end before it is returned. */
export interface HttpResponse {
  status: number;
  /** The `content-type` header, or `''`. */
  contentType: string;
  body: string;
}

/**
 * Why a request got no response. `connect`: no connection could be made, so the request was
 * certainly not processed. `reset`: the connection broke after the request may have been sent.
 * `timeout`: no answer in time. `abort`: the caller's signal fired.
 */
export type TransportFailure = 'connect' | 'reset' | 'timeout' | 'abort';

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
