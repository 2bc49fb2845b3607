/**
 * The parts of Express that express-micro uses, typed structurally so that apps of Express 4
 * and 5 both fit and the package needs no Express types of its own (which Deno and JSR lack).
 */

/** An incoming request as Express hands it to middleware. */
export interface IncomingRequest {
  method: string;
  url: string;
  /** The URL before mounting stripped its prefix (Express sets it). */
  originalUrl?: string;
  headers: Record<string, string | string[] | undefined>;
  /** The client address after the app's `trust proxy` setting (Express sets it). */
  ip?: string | undefined;
  socket: { remoteAddress?: string | undefined; localPort?: number | undefined };
  /** Set when a body parser in front of ours has already read the body. */
  body?: unknown;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

/** The response half, as Express hands it to middleware. */
export interface OutgoingResponse {
  statusCode: number;
  headersSent?: boolean;
  setHeader(name: string, value: string): unknown;
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
  use(path: string, handler: Middleware): unknown;
  /** Reads a setting (`app.get('trust proxy')`). */
  get(setting: string): unknown;
  listen?: unknown;
}
