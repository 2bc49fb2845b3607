// The floor under a member's idle cost (scripts/bench-fleet.mjs): the same traffic a member of an
// idle fleet has per interval, one ~300-byte JSON POST sent and one answered, written as an app
// would write it by hand with the same parts (Express 5 serving, an undici Agent with keep-alive
// calling) and nothing else: no membership, no timers of its own but the one that sends. Two of
// these ping each other while the fleet idles, so both are measured on the same machine at once.
// It speaks the same JSON lines as scripts/bench-child.mjs: {event:'loaded'}, {event:'ready',
// port}, {event:'stats', cpu, at}; stdin: "go" (listen), "peer <url>" (start sending), "stats".
import express from 'express';
import process from 'node:process';
import { Agent, request } from 'undici';
import { onCommands } from './bench-commands.mjs';

const options = JSON.parse(process.env.BENCH_CHILD_OPTIONS ?? '{}');
const interval = options.pingInterval ?? 1000;
const wall = () => performance.timeOrigin + performance.now();
const send = (message) => process.stdout.write(JSON.stringify(message) + '\n');

// A body of a member's ping's size: its id, URL, target and a few updates.
const body = JSON.stringify({ id: 'a'.repeat(16), url: 'http://127.0.0.1:40000', target: 'b'.repeat(16), updates: [{ id: 'c'.repeat(16), url: 'http://127.0.0.1:40001', status: 'UP', incarnation: 1, rev: 'r'.repeat(16) }] });
const app = express();
app.post('/ping', (request_, response) => {
  let text = '';
  request_.setEncoding('utf8');
  request_.on('data', (chunk) => (text += chunk));
  request_.on('end', () => {
    const message = JSON.parse(text);
    response.json({ id: message.target, incarnation: 1, updates: message.updates });
  });
});

const agent = new Agent({ keepAliveTimeout: 60_000 });
let server;
async function go() {
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  send({ event: 'ready', port: server.address().port, at: wall() });
}
function ping(url) {
  setInterval(async () => {
    const answer = await request(`${url}/ping`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: agent });
    JSON.parse(await answer.body.text());
  }, interval);
}

onCommands((command) => {
  if (command === 'go') void go();
  else if (command.startsWith('peer ')) ping(command.slice(5));
  else if (command === 'stats') send({ event: 'stats', cpu: process.cpuUsage(), at: wall() });
});
process.stdin.on('end', () => process.exit(0));
send({ event: 'loaded' });
if (process.env.BENCH_CHILD_AUTOSTART) await go();
