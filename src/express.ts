/**
 * The parts of Express that express-micro uses, typed structurally so that apps of Express 4
 * and 5 both fit and the package needs no Express types of its own (which Deno and JSR lack).
 */

/** An incoming request as Express hands it to middleware. */
export interface IncomingRequest {
  /** The HTTP method, upper case. */
  method: string;
  /** The path with query, relative to where the middleware is mounted. */
  url: string;
  /** The URL before mounting stripped its prefix (Express sets it). */
  originalUrl?: string;
  /** The request headers, names in lower case. */
  headers: Record<string, string | string[] | undefined>;
  /** The client address after the app's `trust proxy` setting (Express sets it). */
  ip?: string | undefined;
  /** The connection: the peer's address and the local port. */
  socket: { remoteAddress?: string | undefined; localPort?: number | undefined };
  /** Set when a body parser in front of ours has already read the body. */
  body?: unknown;
}

/**
 * The request as a readable stream, which every runtime's request is. Kept out of
 * {@link IncomingRequest} on purpose: `@types/node` types `on` with overloads and event maps that
 * change between its majors, and a structural `on` there stops Express's `Request` from fitting.
 */
export interface RequestStream {
  /** Listens for the stream's `data`, `end`, `error` and `aborted` events. */
  on(event: string, listener: (...args: never[]) => void): unknown;
}

/** The response half, as Express hands it to middleware. */
export interface OutgoingResponse {
  /** The status code to send. */
  statusCode: number;
  /** True once the headers went out. */
  headersSent?: boolean;
  /** Sets a response header before the headers go out. */
  setHeader(name: string, value: string): unknown;
  /** Sends the body, if any, and finishes the response. */
  end(body?: string): unknown;
}

/** Express's `next`. */
export type NextFunction = (error?: unknown) => void;

/** A middleware function that can be passed to `app.use()`. */
export type Middleware = (request: IncomingRequest, response: OutgoingResponse, next: NextFunction) => void;

/** The server that `app.listen()` returns (Node's `http.Server`, or Bun's and Deno's equivalent). */
export interface ListeningServer {
  listening?: boolean;
  address(): string | { port: number } | null;
  once(event: string, listener: () => void): unknown;
}

/** An Express 4 or 5 application. */
export interface ExpressApp {
  /** Mounts middleware at a path (`app.use('/_discovery', …)`). */
  use(path: string, handler: Middleware): unknown;
  /** Reads a setting (`app.get('trust proxy')`). */
  get(setting: string): unknown;
  /** Express's `app.listen()`; wrapped so the plugin learns the port when the server listens. */
  listen?: unknown;
  /** Express's request entry (`app.handle`); wrapped so that `/_discovery` is served first. */
  handle?: unknown;
}
