/**
 * Holding a served connection open longer than the server's own keep-alive timeout, for the
 * discovery endpoints. A member probes a different member each interval (docs/ARCHITECTURE.md,
 * "Membership") and so comes back to the same one only every N − 1 intervals; with node:http's
 * 5 s default every probe paid a TCP connect, accept and close on both sides, the largest share of
 * an idle member's CPU (docs/performance.md, "Idle cost of a member").
 */

/** The parts of node:http's ServerResponse this needs; Bun's and Deno's compatibility layers may lack some. */
interface HeldResponse {
  getHeader(name: string): unknown;
  setHeader(name: string, value: string): unknown;
  once(event: 'finish', listener: () => void): unknown;
  readonly shouldKeepAlive?: boolean;
  sendDate?: boolean;
  readonly socket?: { setTimeout?(milliseconds: number): unknown; readonly server?: { readonly keepAliveTimeout?: number } } | null;
}

/**
 * The server closes a held connection this long after the client was told to: the client retires
 * it first (undici subtracts a second from the hint), never racing a request against the close.
 */
const SERVER_MARGIN_MS = 2000;

/**
 * Readies the answer to a member's request: no `Date` header (node:http formats it under a cache
 * that a timer clears every second, one more wakeup a second for an idle member; members never
 * read it), and the connection held (`Keep-Alive: timeout=…`) for `seconds` after the answer.
 * The connection is left alone when it is closing anyway (a drain, HTTP/1.0), when the server
 * keeps idle connections longer already, or when the response is not node:http's.
 */
export function answerMember(response: unknown, seconds: number): void {
  const held = response as HeldResponse;
  if (typeof held.sendDate === 'boolean') held.sendDate = false;
  const socket = held.socket;
  if (!socket || typeof socket.setTimeout !== 'function' || typeof held.once !== 'function' || held.shouldKeepAlive === false) return;
  if (held.getHeader('connection') !== undefined) return;
  const configured = socket.server?.keepAliveTimeout;
  // 0 means the server never times idle connections out: holding them would shorten that.
  if (configured === 0 || (configured !== undefined && configured >= seconds * 1000 + SERVER_MARGIN_MS)) return;
  held.setHeader('connection', 'keep-alive');
  held.setHeader('keep-alive', `timeout=${seconds}`);
  // node:http sets the socket's idle timeout when the answer has finished; this runs after it.
  held.once('finish', () => socket.setTimeout?.(seconds * 1000 + SERVER_MARGIN_MS));
}
