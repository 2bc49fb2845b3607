/**
 * The dashboard's HTTP side, on 127.0.0.1 only: the page (`/`, `/app.js`, `/app.css`), the
 * latest snapshot (`/snapshot.json`) and its stream of server-sent events (`/events`). Every
 * request must name this server in its `Host` header, so a web page elsewhere cannot read the
 * cluster through it by rebinding its own name to 127.0.0.1; there is no CORS, and the page may
 * load nothing but its own files (CSP). The secret stays in the command: nothing served holds it.
 */
import { every } from '../../../runtime/timers/index.ts';
import { startLocalServer, type LocalRequest, type LocalResponse, type LocalServer, type TextStream } from '../../../runtime/server/index.ts';
import type { Monitor } from './monitor.ts';
import { PAGE_HTML, PAGE_SCRIPT, PAGE_STYLE } from './page.ts';
import type { Snapshot } from './snapshot.ts';

/** The one address the dashboard listens on. */
export const DASHBOARD_HOST = '127.0.0.1';

/** A comment line every this many ms keeps idle streams (and proxies) from timing out. */
const HEARTBEAT_MS = 10_000;

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const FILES: ReadonlyMap<string, { type: string; body: string }> = new Map([
  ['/', { type: 'text/html; charset=utf-8', body: PAGE_HTML }],
  ['/app.js', { type: 'text/javascript; charset=utf-8', body: PAGE_SCRIPT }],
  ['/app.css', { type: 'text/css; charset=utf-8', body: PAGE_STYLE }],
]);

/** The dashboard's server, listening. */
export interface DashboardServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Ends every event stream and stops listening. */
  close(): Promise<void>;
}

function text(response: LocalResponse, status: number, body: string, extra: Readonly<Record<string, string>> = {}): void {
  response.send(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', ...extra }, `${body}\n`);
}

function event(snapshot: Snapshot): string {
  return `data: ${JSON.stringify(snapshot)}\n\n`;
}

/** Starts serving `monitor`'s snapshots on 127.0.0.1:`port` (0: any free port). */
export async function startDashboardServer(monitor: Monitor, port: number): Promise<DashboardServer> {
  const streams = new Set<TextStream>();
  let allowedHosts: ReadonlySet<string> = new Set();

  const unsubscribe = monitor.subscribe((snapshot) => {
    const data = event(snapshot);
    for (const stream of streams) stream.write(data);
  });
  const heartbeat = every(HEARTBEAT_MS, () => {
    for (const stream of streams) stream.write(': heartbeat\n\n');
  });

  function handle(request: LocalRequest, response: LocalResponse): void {
    if (request.host === undefined || !allowedHosts.has(request.host.toLowerCase())) {
      text(response, 403, 'forbidden: this dashboard answers only to http://127.0.0.1 and http://localhost on its own port');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      text(response, 405, 'method not allowed', { allow: 'GET, HEAD' });
      return;
    }
    const file = FILES.get(request.path);
    if (file !== undefined) {
      response.send(200, { ...SECURITY_HEADERS, 'content-type': file.type }, request.method === 'HEAD' ? '' : file.body);
      return;
    }
    if (request.path === '/snapshot.json') {
      response.send(200, { ...SECURITY_HEADERS, 'content-type': 'application/json' }, JSON.stringify(monitor.snapshot));
      return;
    }
    if (request.path === '/events') {
      const stream = response.stream(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' }, () => streams.delete(stream));
      streams.add(stream);
      // The whole picture at once: a page that reconnects is up to date without waiting a poll.
      stream.write(`retry: 1000\n\n${event(monitor.snapshot)}`);
      return;
    }
    text(response, 404, 'not found');
  }

  let server: LocalServer;
  try {
    server = await startLocalServer({ host: DASHBOARD_HOST, port, handle });
  } catch (error) {
    unsubscribe();
    heartbeat.stop();
    throw error;
  }
  allowedHosts = new Set([`127.0.0.1:${server.port}`, `localhost:${server.port}`]);
  return {
    url: `http://${DASHBOARD_HOST}:${server.port}`,
    async close() {
      unsubscribe();
      heartbeat.stop();
      await server.close();
    },
  };
}
