// One member of the mixed-runtime cluster (test/mixed-runtimes.test.ts): the same file runs on
// Node, Bun and Deno, importing the BUILT package by its name (package.json self-reference) and
// Express from node_modules. Options come as JSON in MIXED_OPTIONS; it prints
// "READY <port> <runtime>" once it listens, and closes cleanly on SIGTERM.
//
// Besides its own routes (whoami, echo) it serves two test-only routes on 127.0.0.1, which the
// test uses to look inside: GET /mixed/peers (its membership table) and
// GET /mixed/call/:target (it calls `target`'s whoami and echo through `services`).
import process from 'node:process';
import express from 'express';
import expressMicro from 'express-micro';

const runtime = 'Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node';
const options = JSON.parse(process.env.MIXED_OPTIONS ?? '{}');
const name = options.serviceName;

const app = express();
const micro = expressMicro(app, { host: '127.0.0.1', pingInterval: 200, logger: false, ...options });
app.use(express.json());
app.get('/whoami', function whoami(req, res) {
  res.json({ service: name, runtime, from: req.query.from ?? null });
});
app.post('/echo', function echo(req, res) {
  res.status(201).json({ service: name, runtime, body: req.body });
});
app.get('/mixed/peers', (_req, res) => {
  res.json(micro.peers().map(({ service, url, status, self }) => ({ service, url, status, self })));
});
app.get('/mixed/call/:target', async (req, res) => {
  const target = micro.services[req.params.target];
  try {
    const who = await target.whoami({ from: name });
    const echoed = await target.echo({ from: name, numbers: [1, 2, 3] });
    res.json({ who, echoed });
  } catch (error) {
    res.status(502).json({ error: `${error?.name}: ${error?.message}` });
  }
});

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY ${server.address().port} ${runtime}\n`);
});
process.on('SIGTERM', () => {
  void micro.close().finally(() => {
    server.closeAllConnections?.();
    server.close(() => process.exit(0));
  });
});
