import type { HttpClient } from '../runtime/index.ts';

/** Adds authentication to an outgoing request: a Bearer header, or HMAC signature headers. */
export type Authorize = (method: string, pathWithQuery: string, body: string | undefined) => Record<string, string>;

/** Thrown when a peer answers a discovery request with a non-2xx status or a non-JSON body. */
export class PeerAnswerError extends Error {
  override readonly name: string = 'PeerAnswerError';
  readonly status: number;
  constructor(url: string, status: number, detail: string) {
    super(`${url} answered ${status}${detail ? `: ${detail}` : ''}`);
    this.status = status;
  }
}

/** Sends the discovery protocol's JSON requests, authenticated, over the runtime's HTTP client. */
export class DiscoveryTransport {
  readonly #http: HttpClient;
  readonly #authorize: Authorize;

  constructor(http: HttpClient, authorize: Authorize) {
    this.#http = http;
    this.#authorize = authorize;
  }

  async post(origin: string, path: string, payload: unknown, timeout: number): Promise<unknown> {
    const body = JSON.stringify(payload);
    const headers = this.#authorize('POST', path, body);
    headers['content-type'] = 'application/json';
    const response = await this.#http.request({ origin, path, method: 'POST', headers, body, timeout });
    if (response.status < 200 || response.status > 299) {
      throw new PeerAnswerError(origin + path, response.status, response.body.slice(0, 200));
    }
    try {
      return JSON.parse(response.body) as unknown;
    } catch {
      throw new PeerAnswerError(origin + path, response.status, 'answer is not JSON');
    }
  }
}
