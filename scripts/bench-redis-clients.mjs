// Which Redis client the durable events transport (src/runtime/redis/) wraps: node-redis (`redis`)
// or `ioredis`, measured on Node, Bun and Deno against a local redis-server (docs/events-redis.md).
//
//   node scripts/bench-redis-clients.mjs            every runtime found × both clients
//   node scripts/bench-redis-clients.mjs --json     the same, one JSON line per run at the end
//
// The driver starts `redis-server --port <free port> --save '' --appendonly no` in a temp folder
// on 127.0.0.1, then runs this same file as a worker (`--worker <client> <port> <modules>`) once
// per runtime and client. Each worker, on its own stream and consumer group, times:
//   - 10,000 XADD (MAXLEN ~ 100000) awaited one after another (a publish per request);
//   - 10,000 XADD with 100 in flight (many requests publishing at once);
//   - XREADGROUP (COUNT 100, BLOCK 100) + one XACK per entry, 100 in flight, until all 10,000
//     are read and acknowledged (what a consumer does);
// and then checks reconnection: it prints RESTART, the driver SIGKILLs redis-server and starts it
// again on the same port, and the worker, sending an XADD every 20 ms (bounded to 20 s), reports
// how long a call took to fail while the server was away (a publish must fail, not hang), and how
// long after its first failed call both its connections (commands and blocking reads) worked
// again (the driver's kill and restart of the server included).
// Both clients send the same raw commands (`sendCommand` / `call`), as the adapter does.
// The clients come from node_modules when both are installed there, else they are installed
// (npm, no save) into <tmpdir>/em-bench-redis-clients.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './bench-lib.mjs';

const N = 10_000;
const WINDOW = 100;
const CLIENTS = ['ioredis', 'redis'];

if (process.argv[2] === '--worker') await worker(process.argv[3], Number(process.argv[4]), process.argv[5]);
else await driver(process.argv.includes('--json'));

// ---------------------------------------------------------------- driver

async function driver(json) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const modules = clientModules(root);
  const server = which('redis-server');
  if (!server) {
    console.error('bench-redis-clients: no redis-server on PATH (apt-get install redis-server)');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'em-bench-redis-'));
  const port = await freePort();
  let redis = await startRedis(server, port, dir);
  const runtimes = [
    ['node', process.execPath, []],
    ['bun', join(root, 'node_modules/.bin/bun'), []],
    ['deno', join(root, 'node_modules/.bin/deno'), ['run', '-A']],
  ].filter(([, bin]) => existsSync(bin));
  const version = /v=(\S+)/.exec(spawnSync(server, ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
  const versions = Object.fromEntries(CLIENTS.map((name) => [name, createRequire(join(modules, 'x.js'))(`${name}/package.json`).version]));
  console.log(`redis-server ${version} on 127.0.0.1:${port}; ${CLIENTS.map((name) => `${name}@${versions[name]}`).join(', ')}; ${N} entries each`);
  const results = [];
  try {
    for (const [runtime, bin, args] of runtimes) {
      for (const client of CLIENTS) {
        const result = await runWorker(bin, [...args, fileURLToPath(import.meta.url), '--worker', client, String(port), modules], async () => {
          redis.kill('SIGKILL');
          await new Promise((resolve) => redis.once('exit', resolve));
          redis = await startRedis(server, port, dir);
        });
        results.push({ runtime, client, version: versions[client], ...result });
        console.log(line(runtime, client, result));
      }
    }
  } finally {
    redis.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  if (json) for (const result of results) console.log(JSON.stringify(result));
}

function line(runtime, client, r) {
  if (r.error) return `${runtime.padEnd(5)} ${client.padEnd(8)} FAILED: ${r.error}`;
  const rate = (ms) => `${Math.round(ms)} ms (${Math.round(N / (ms / 1000))}/s)`;
  return `${runtime.padEnd(5)} ${client.padEnd(8)} xadd serial ${rate(r.xaddSerialMs)}, xadd ×${WINDOW} ${rate(r.xaddConcurrentMs)}, xreadgroup+xack ${rate(r.consumeMs)}; down: a call failed within ${Math.round(r.failMaxMs)} ms (${r.failures} failed), working again ${Math.round(r.recoveredMs)} ms after its first failed call (the restart included)`;
}

function clientModules(root) {
  const local = join(root, 'node_modules');
  if (CLIENTS.every((name) => existsSync(join(local, name, 'package.json')))) return local;
  const dir = join(tmpdir(), 'em-bench-redis-clients');
  if (!CLIENTS.every((name) => existsSync(join(dir, 'node_modules', name, 'package.json')))) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{"name":"em-bench-redis-clients","private":true}');
    const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', 'redis@6', 'ioredis@6'], { cwd: dir, stdio: 'inherit' });
    if (npm.status !== 0) throw new Error('npm install of the clients failed');
  }
  return join(dir, 'node_modules');
}

function which(name) {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  return found || undefined;
}

async function startRedis(bin, port, dir) {
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 10_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout.resume();
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
  });
  return child;
}

function runWorker(bin, args, restart) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('RESTART\n')) {
        output = output.replace('RESTART\n', '');
        void restart();
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      const last = output.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        resolve({ error: `no result: ${output.slice(-300)}` });
      }
    });
  });
}

// ---------------------------------------------------------------- worker

/** The two clients behind one shape: raw commands in, RESP2 replies out. */
async function connect(client, port, modules) {
  const require = createRequire(join(modules, 'x.js'));
  const url = `redis://127.0.0.1:${port}`;
  if (client === 'ioredis') {
    const Redis = require('ioredis');
    const make = async () => {
      const connection = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, retryStrategy: (times) => Math.min(50 * 2 ** times, 1000) });
      connection.on('error', () => {});
      await connection.connect();
      return { send: (args) => connection.call(...args), close: () => connection.quit() };
    };
    return [await make(), await make()];
  }
  const { createClient } = require('redis');
  const make = async () => {
    const connection = createClient({ url, RESP: 2, disableOfflineQueue: true, socket: { reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000) } });
    connection.on('error', () => {});
    await connection.connect();
    return { send: (args) => connection.sendCommand(args), close: () => connection.quit() };
  };
  return [await make(), await make()];
}

async function worker(client, port, modules) {
  const stream = `bench:${client}:${Math.random().toString(16).slice(2)}`;
  const fields = (index) => ['id', `e${index}`, 'event', 'order.created', 'emitter', 'bench', 'from', 'i1', 'time', String(Date.now()), 'payload', `{"order":${index}}`];
  const xadd = (connection, index) => connection.send(['XADD', stream, 'MAXLEN', '~', '100000', '*', ...fields(index)]);
  try {
    const [commands, reader] = await connect(client, port, modules);
    await commands.send(['XGROUP', 'CREATE', stream, 'g', '0', 'MKSTREAM']);
    // Warm up both connections and the JIT a little.
    for (let index = 0; index < 200; index++) await xadd(commands, -index);
    await commands.send(['DEL', stream]);
    await commands.send(['XGROUP', 'CREATE', stream, 'g', '0', 'MKSTREAM']);

    let start = performance.now();
    for (let index = 0; index < N; index++) await xadd(commands, index);
    const xaddSerialMs = performance.now() - start;

    start = performance.now();
    await inWindows(N, (index) => xadd(commands, N + index));
    const xaddConcurrentMs = performance.now() - start;

    // Read and acknowledge the first N (the second N stay: the group reads from 0 once).
    start = performance.now();
    let consumed = 0;
    while (consumed < N) {
      const reply = await reader.send(['XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', String(Math.min(WINDOW, N - consumed)), 'BLOCK', '100', 'STREAMS', stream, '>']);
      const entries = reply?.[0]?.[1] ?? [];
      await Promise.all(entries.map((entry) => commands.send(['XACK', stream, 'g', entry[0]])));
      consumed += entries.length;
    }
    const consumeMs = performance.now() - start;
    const pending = Number((await commands.send(['XPENDING', stream, 'g']))[0]);
    if (pending !== 0) throw new Error(`${pending} entries left pending`);

    // Reconnection: the driver kills and restarts the server once RESTART is read.
    process.stdout.write('RESTART\n');
    let failures = 0;
    let failMaxMs = 0;
    let firstFailure;
    let recoveredMs;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const sent = performance.now();
      try {
        await xadd(commands, -1);
        await reader.send(['XGROUP', 'CREATE', stream, 'g2', '$', 'MKSTREAM']).catch((error) => {
          if (!String(error?.message ?? error).includes('BUSYGROUP')) throw error;
        });
        await reader.send(['XREADGROUP', 'GROUP', 'g2', 'c1', 'COUNT', '1', 'BLOCK', '10', 'STREAMS', stream, '>']);
        if (firstFailure !== undefined) {
          recoveredMs = performance.now() - firstFailure;
          break;
        }
      } catch {
        failures++;
        failMaxMs = Math.max(failMaxMs, performance.now() - sent);
        firstFailure ??= sent;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await Promise.all([commands.close(), reader.close()]);
    if (recoveredMs === undefined) throw new Error(firstFailure === undefined ? 'never saw the server go away' : 'did not recover within 20 s');
    process.stdout.write(`${JSON.stringify({ xaddSerialMs, xaddConcurrentMs, consumeMs, failures, failMaxMs, recoveredMs })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: String(error?.message ?? error) })}\n`);
  }
  // Deno and Bun may keep a reconnect timer alive after a failure.
  process.exit(0);
}

async function inWindows(count, task) {
  let next = 0;
  await Promise.all(Array.from({ length: WINDOW }, async () => {
    while (next < count) await task(next++);
  }));
}
