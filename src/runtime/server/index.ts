/**
 * A small HTTP server for the command line (`express-micro dashboard`): node:http's
 * `createServer`, which Bun and Deno provide through their Node compatibility. Only the command
 * line imports this, so it is not exported from runtime/index.ts and stays out of the library's
 * module graph. It answers whole bodies and server-sent event streams, nothing more.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ListenError } from './listen-error.ts';

export { ListenError } from './listen-error.ts';

/** What a handler is told about a request: no body is ever read. */
export interface LocalRequest {
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  /** The `Host` header as sent, `undefined` when missing or repeated. */
  readonly host: string | undefined;
}

/** An open stream of server-sent events (or any text sent bit by bit). */
export interface TextStream {
  /** Sends `text` at once; ignored once the stream is closed. */
  write(text: string): void;
  /** Ends the stream. */
  close(): void;
  /** Whether the client went away or the stream was closed. */
  readonly closed: boolean;
}

/** How a handler answers: once, with a whole body or by opening a stream. */
export interface LocalResponse {
  /** Answers `status` with `headers` and `body` (`content-length` is set here). */
  send(status: number, headers: Readonly<Record<string, string>>, body: string): void;
  /** Answers `status` with `headers` and keeps the response open; `onClose` runs once when it ends. */
  stream(status: number, headers: Readonly<Record<string, string>>, onClose: () => void): TextStream;
}

/** A listening server. */
export interface LocalServer {
  /** The port it listens on (the one chosen when 0 was asked). */
  readonly port: number;
  /** Ends every open stream and connection and stops listening. */
  close(): Promise<void>;
}

/** Where to listen and what to answer. */
export interface LocalServerOptions {
  readonly host: string;
  /** 0 picks any free port. */
  readonly port: number;
  handle(request: LocalRequest, response: LocalResponse): void;
}

function wrapRequest(request: IncomingMessage): LocalRequest {
  // Node keeps the first of two Host headers; a request that sends two is not trusted with either.
  let hosts = 0;
  for (let index = 0; index < request.rawHeaders.length; index += 2) if (request.rawHeaders[index]?.toLowerCase() === 'host') hosts++;
  const raw = hosts === 1 ? request.headers.host : undefined;
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return { method: request.method ?? 'GET', path: query === -1 ? url : url.slice(0, query), host: typeof raw === 'string' ? raw : undefined };
}

function wrapResponse(response: ServerResponse, streams: Set<TextStream>): LocalResponse {
  return {
    send(status, headers, body) {
      response.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
      response.end(body);
    },
    stream(status, headers, onClose) {
      response.writeHead(status, headers);
      // Headers go out now: an EventSource counts as open once it has them.
      response.flushHeaders();
      let closed = false;
      const stream: TextStream = {
        write(text) {
          if (!closed) response.write(text);
        },
        close() {
          if (closed) return;
          closed = true;
          streams.delete(stream);
          response.end();
          onClose();
        },
        get closed() {
          return closed;
        },
      };
      streams.add(stream);
      response.once('close', () => stream.close());
      return stream;
    },
  };
}

/** Starts listening on `options.host`:`options.port`; rejects with {@link ListenError}. */
export function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const streams = new Set<TextStream>();
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => options.handle(wrapRequest(request), wrapResponse(response, streams)));
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: Error & { code?: string }) => reject(new ListenError(error.message, error.code)));
    server.listen(options.port, options.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const stream of [...streams]) stream.close();
            server.close(() => done());
            // Keep-alive connections (a browser's) would hold close() open until they time out.
            for (const socket of sockets) socket.destroy();
          }),
      });
    });
  });
}
