// Helpers shared by the bench scripts (scripts/bench-*.mjs). Plain ESM that runs unchanged on
// Node, Bun and Deno: only `node:` modules and web globals.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The one secret every bench service shares (never the temp-dir secret file). */
export const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
/** Every bench socket is on loopback. */
export const HOST = '127.0.0.1';

export const runtime = 'Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node';
export const runtimeVersion =
  runtime === 'bun' ? globalThis.Bun.version : runtime === 'deno' ? globalThis.Deno.version.deno : process.versions.node;

/** The built package: `dist/index.js`, or BENCH_DIST (a path) to compare a scratch copy. */
export function distUrl(path = process.env.BENCH_DIST) {
  return path ? pathToFileURL(path).href : new URL('../dist/index.js', import.meta.url).href;
}

export async function loadExpressMicro(path) {
  const module = await import(distUrl(path));
  return module.default;
}

export const now = () => performance.now();
/** Milliseconds since the epoch with sub-millisecond precision, comparable across processes. */
export const wall = () => performance.timeOrigin + performance.now();
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function envNumber(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new Error(`${name} must be a positive number, got ${value}`);
  return number;
}

/** Polls `condition` every `step` ms until it holds; throws after `timeout` ms naming `what`. */
export async function waitFor(condition, what, timeout = 10_000, step = 5) {
  const deadline = now() + timeout;
  while (!(await condition())) {
    if (now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(step);
  }
}

export function median(values) {
  // NaN (not measured) is left out; Infinity (timed out) counts, and sorts last.
  const sorted = values.filter((value) => typeof value === 'number' && !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The q-quantile (0..1) of a sorted typed array, nearest rank. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const missing = (value) => (value === Infinity ? 'timeout' : 'n/a');
export const fmt = {
  ratio: (value) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : missing(value)),
  us: (ms) => (Number.isFinite(ms) ? `${Math.round(ms * 1000)} µs` : missing(ms)),
  ms: (ms) => (Number.isFinite(ms) ? `${ms.toFixed(0)} ms` : missing(ms)),
  int: (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : missing(value)),
  num: (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : missing(value)),
  mb: (bytes) => (Number.isFinite(bytes) ? `${(bytes / 1048576).toFixed(1)} MB` : 'n/a'),
  verdict: (ok) => (ok === undefined ? '' : ok ? 'PASS' : 'MISS'),
};

/**
 * Prints a Markdown table: `columns` are headers, `rows` arrays of cells. The first `left`
 * columns are left-aligned, the others (figures) right-aligned.
 */
export function table(title, columns, rows, notes = [], left = 1) {
  const cells = rows.map((row) => row.map((cell) => String(cell ?? '')));
  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((row) => row[index]?.length ?? 0)));
  const line = (row) => '| ' + row.map((cell, index) => (index < left ? cell.padEnd(widths[index]) : cell.padStart(widths[index]))).join(' | ') + ' |';
  const rule = widths.map((width, index) => (index < left ? ':' + '-'.repeat(width + 1) : '-'.repeat(width + 1) + ':'));
  const out = [`\n${title}`, '', line(columns), '|' + rule.join('|') + '|'];
  for (const row of cells) out.push(line(row));
  if (notes.length) out.push('');
  for (const note of notes) out.push(`  ${note}`);
  console.log(out.join('\n'));
}

/** Appends one verdict to the run's results file (BENCH_RESULTS) for the final summary. */
export function record(result) {
  const file = process.env.BENCH_RESULTS;
  if (file) appendFileSync(file, JSON.stringify({ runtime, ...result }) + '\n');
}

const CHILD = fileURLToPath(new URL('./bench-child.mjs', import.meta.url));
const children = new Set();

/**
 * Starts scripts/bench-child.mjs (an Express 5 app with express-micro serving GET /users/:id) in
 * its own Node process. Resolves once it has loaded; call `go()` to make it listen unless
 * `autostart`. It speaks JSON lines on stdout and takes commands on stdin. `script` starts another
 * child that speaks the same lines (scripts/bench-floor-child.mjs); `timeout` bounds loading and
 * listening (a fleet that starves the machine needs longer).
 */
export function spawnChild(options, { expect = 0, autostart = true, nodeArgs = [], script = CHILD, timeout = 15_000 } = {}) {
  const node = process.env.BENCH_NODE || (runtime === 'node' ? process.execPath : 'node');
  const child = spawn(node, [...nodeArgs, script], {
    env: {
      ...process.env,
      EXPRESS_DISCOVERY_KEY: '',
      BENCH_CHILD_OPTIONS: JSON.stringify({ host: HOST, secret: SECRET, logger: false, ...options }),
      BENCH_CHILD_EXPECT: String(expect),
      BENCH_CHILD_AUTOSTART: autostart ? '1' : '',
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  // A child that died (SIGKILL) must not take the bench down with an EPIPE on its stdin.
  child.stdin.on('error', () => {});
  const waiting = new Map();
  const seen = new Map();
  let buffer = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      let message;
      try {
        message = JSON.parse(line);
      } catch {
        continue;
      }
      seen.set(message.event, message);
      waiting.get(message.event)?.(message);
      waiting.delete(message.event);
    }
  });
  let exited = false;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => ((exited = true), resolve({ code, signal }))));
  const next = (event, timeout = 15_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench child: no "${event}" within ${timeout} ms`)), timeout);
      const done = (message) => (clearTimeout(timer), resolve(message));
      waiting.set(event, done);
      void exit.then(({ code, signal }) => waiting.get(event) === done && (clearTimeout(timer), reject(new Error(`bench child exited (${code ?? signal}) before "${event}"`))));
    });
  const handle = {
    child,
    /** The last message of kind `event`, or the next one. */
    event: (event, timeout) => (seen.has(event) ? Promise.resolve(seen.get(event)) : next(event, timeout)),
    /** The next message of kind `event`. */
    next,
    /** Whether a message of kind `event` has come. */
    has: (event) => seen.has(event),
    command: (line) => child.stdin.write(line + '\n'),
    async go() {
      handle.command('go');
      return handle.event('ready');
    },
    async stats() {
      const reply = next('stats');
      handle.command('stats');
      return reply;
    },
    async view() {
      // A member of a fleet that starves the machine may take long to read its stdin.
      const reply = next('view', 120_000);
      handle.command('view');
      return reply;
    },
    /** Closes its stdin: the child closes express-micro (telling the members it leaves) and exits, as a deploy stops an instance. */
    async stop() {
      children.delete(handle);
      if (!exited) child.stdin.end();
      await exit;
    },
    /** SIGKILL: the process dies without a leave message, as in a crash. */
    async kill() {
      children.delete(handle);
      if (!exited) child.kill('SIGKILL');
      await exit;
    },
  };
  children.add(handle);
  return handle.event('loaded', timeout).then(async () => {
    if (autostart) {
      const ready = await handle.event('ready', timeout);
      handle.url = `${options.tls ? 'https' : 'http'}://${HOST}:${ready.port}`;
      handle.id = ready.id;
      handle.node = ready.node;
    }
    return handle;
  });
}

/** Kills every child still running (on exit or failure). */
export async function killChildren() {
  await Promise.all([...children].map((child) => child.kill()));
}

/** Starts an Express app on 127.0.0.1, port 0, and resolves with its server once it listens. */
export function listen(app) {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, HOST, (error) => (error ? reject(error) : resolve(server)));
  });
}

export async function closeServer(server) {
  server.closeAllConnections?.();
  await new Promise((resolve) => server.close(() => resolve()));
}

/** A TCP port free on 127.0.0.1 right now, for a server that cannot listen on port 0 (etcd, redis, TLS). */
export async function freePort() {
  const probe = createServer();
  const port = await new Promise((resolve) => probe.listen(0, HOST, () => resolve(probe.address().port)));
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
