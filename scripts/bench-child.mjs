// One express-micro service in its own Node process, for the benches: the call-cost target
// (GET /users/:id), the victim that is SIGKILLed, a failover instance, a member whose RSS is read.
//
// Options come as JSON in BENCH_CHILD_OPTIONS. It writes JSON lines on stdout:
//   {event:'loaded'}                 modules loaded, app built (listens now if BENCH_CHILD_AUTOSTART)
//   {event:'ready', port, id, at}    listening, and express-micro has started
//   {event:'converged', at}          it sees BENCH_CHILD_EXPECT other instances UP
//   {event:'stats', rss, heapUsed, discovery, byPath, served, cpu, bytes, at}   answer to the stdin command "stats"
//                                    (served: GET /users/:id requests received so far; bytes: read
//                                    plus written on this server's sockets so far)
//   {event:'view', up, downs, at}    answer to "view": the ids it sees UP, and every DOWN and
//                                    suspect it fired ({id, at}) since it started
// GET /export answers 64 MiB of application/octet-stream, written as the socket takes it (the
// transfer bench, scripts/bench-transfer.mjs).
// stdin commands, one a line: "go" (listen), "stats", "mode <status> <delay ms>" (how GET
// /users/:id answers from now on: "mode 200 20" is a slow instance, "mode 500 0" a broken one).
// It exits when stdin closes. With a `tls` option it is served by https.createServer (asking every
// client for a certificate from the same CA) on a port chosen before express-micro starts.
import express from 'express';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { onCommands } from './bench-commands.mjs';

const dist = process.env.BENCH_DIST ? pathToFileURL(process.env.BENCH_DIST).href : new URL('../dist/index.js', import.meta.url).href;
const { default: expressMicro } = await import(dist);

const options = JSON.parse(process.env.BENCH_CHILD_OPTIONS ?? '{}');
const expect = Number(process.env.BENCH_CHILD_EXPECT ?? 0);
const wall = () => performance.timeOrigin + performance.now();
const send = (message) => process.stdout.write(JSON.stringify(message) + '\n');

const app = express();
let discovery = 0;
/** Discovery requests received so far, by path. */
const byPath = {};
// Served by https.createServer, the plugin cannot learn the port from app.listen(): pick one first.
if (options.tls && options.port === undefined) {
  const probe = createNetServer();
  options.port = await new Promise((resolve) => probe.listen(0, '127.0.0.1', () => resolve(probe.address().port)));
  await new Promise((resolve) => probe.close(resolve));
}
let served = 0;
const micro = expressMicro(app, options);
let port = 0;
const mode = { status: 200, delay: 0 };
app.get('/users/:id', (request, response) => {
  served++;
  const answer = () => response.status(mode.status).json({ id: request.params.id, name: 'Ada Lovelace', email: 'ada@example.com', port });
  if (mode.delay > 0) setTimeout(answer, mode.delay);
  else answer();
});

// The transfer bench's answer: one 64 KiB chunk 1024 times, waiting for 'drain' when the socket is full.
const EXPORT_CHUNK = new Uint8Array(64 * 1024).fill(0xa5);
app.get('/export', async (_request, response) => {
  response.status(200).type('application/octet-stream').setHeader('content-length', String(1024 * EXPORT_CHUNK.byteLength));
  for (let index = 0; index < 1024 && !response.destroyed; index++) {
    if (!response.write(EXPORT_CHUNK)) await new Promise((resolve) => response.once('drain', resolve));
  }
  response.end();
});

const up = new Set();
let converged = false;
micro.on('up', (instance) => {
  if (instance.self) return;
  up.add(instance.id);
  if (expect > 0 && !converged && up.size >= expect) {
    converged = true;
    send({ event: 'converged', at: wall() });
  }
});
const downs = [];
micro.on('down', (instance) => {
  up.delete(instance.id);
  downs.push({ id: instance.id, at: wall() });
});
micro.on('removed', (instance) => up.delete(instance.id));
const suspects = [];
micro.on('suspect', (instance) => suspects.push({ id: instance.id, at: wall() }));

let server;
const sockets = new Set();
let closedBytes = 0;
const bytes = () => {
  let total = closedBytes;
  for (const socket of sockets) total += socket.bytesRead + socket.bytesWritten;
  return total;
};
async function go() {
  if (server) return;
  server = options.tls
    ? createHttpsServer({ ...options.tls, requestCert: true, rejectUnauthorized: true }, app).listen(options.port, '127.0.0.1')
    : app.listen(0, '127.0.0.1');
  // Discovery is served ahead of the app's middleware: every request is counted at the server.
  server.prependListener('request', (request) => {
    if (!request.url.startsWith('/_discovery/')) return;
    discovery++;
    const path = request.url.split('?')[0];
    byPath[path] = (byPath[path] ?? 0) + 1;
  });
  // Every byte a member sends on loopback is read by some server (a request) or written by one
  // (an answer): summed over the servers, these are the bytes the cluster sends.
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      closedBytes += socket.bytesRead + socket.bytesWritten;
    });
  });
  await new Promise((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  port = server.address().port;
  for (let spin = 0; spin < 1000 && micro.url === undefined; spin++) await new Promise((resolve) => setTimeout(resolve, 2));
  send({ event: 'ready', port, id: micro.peers().find((peer) => peer.self)?.id, at: wall(), node: process.version });
}

onCommands((command) => {
  if (command === 'go') void go();
  else if (command.startsWith('mode ')) {
    const [, status, delay] = command.split(' ');
    mode.status = Number(status);
    mode.delay = Number(delay);
    send({ event: 'mode', status: mode.status, delay: mode.delay });
  } else if (command === 'stats') {
    const memory = process.memoryUsage();
    send({ event: 'stats', rss: memory.rss, heapUsed: memory.heapUsed, discovery, byPath, served, cpu: process.cpuUsage(), up: up.size, bytes: bytes(), at: wall() });
  } else if (command === 'view') send({ event: 'view', up: [...up], downs, suspects, at: wall() });
});
// The parent went away: leave quietly.
process.stdin.on('end', () => void micro.close().finally(() => process.exit(0)));

send({ event: 'loaded' });
if (process.env.BENCH_CHILD_AUTOSTART) await go();
