// node scripts/dashboard-screenshot.mjs [out.png]: the picture in docs/operating.md (Dashboard) of `express-micro
// dashboard` (docs/images/dashboard.png), taken from a small demo cluster on 127.0.0.1 with
// Debian's Chromium (playwright-core). Run `npm run build` first: the services and the bin are the
// built package. The cluster: two user-service instances in their own processes (one is killed
// halfway, as in a crash), an inventory-service whose lookups fail now and then, and an
// order-service that calls both for a few seconds. Everything listens on 127.0.0.1 only.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { chromium } from 'playwright-core';
import expressMicro from '../dist/index.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = process.argv[2] ?? `${ROOT}docs/images/dashboard.png`;
const secret = randomBytes(32).toString('hex');
const base = { host: '127.0.0.1', secret, pingInterval: 500, logger: false };
const children = [];
const servers = [];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A child process running the test fixture (GET /users/:id), resolved with its URL. */
function child(serviceName, options) {
  const process_ = spawn(process.execPath, [`${ROOT}test/fixtures/service.mjs`], {
    env: { ...process.env, EXPRESS_DISCOVERY_KEY: '', FIXTURE_OPTIONS: JSON.stringify({ ...base, serviceName, ...options }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(process_);
  return new Promise((resolve, reject) => {
    let output = '';
    process_.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /URL (\S+)/.exec(output);
      if (match) resolve({ url: match[1], process: process_ });
    });
    process_.once('exit', (code) => reject(new Error(`${serviceName} exited with ${code}: ${output}`)));
  });
}

/** An in-process service. */
async function service(serviceName, define, options) {
  const app = express();
  const micro = expressMicro(app, { ...base, serviceName, ...options });
  define(app);
  const server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  servers.push({ micro, server });
  await micro.ready;
  return { micro, url: `http://127.0.0.1:${server.address().port}` };
}

try {
  const first = await child('user-service', {});
  const second = await child('user-service', { peers: [first.url] });
  let lookups = 0;
  await service('inventory-service', (app) => app.get('/stock/:sku', (req, res) => (++lookups % 9 === 0 ? res.status(503).json({ error: 'busy' }) : res.json({ sku: req.params.sku, count: 3 }))), { peers: [first.url] });
  const orders = await service('order-service', (app) => app.get('/orders/:id', (req, res) => res.json({ id: req.params.id })), { peers: [first.url] });

  const dashboard = spawn(process.execPath, [`${ROOT}dist/cli.js`, 'dashboard', '--peer', first.url, '--peer', orders.url, '--port', '0', '--interval', '500'], {
    env: { ...process.env, EXPRESS_DISCOVERY_KEY: secret },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(dashboard);
  const url = await new Promise((resolve, reject) => {
    let output = '';
    dashboard.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /dashboard: (\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    dashboard.once('exit', (code) => reject(new Error(`the dashboard exited with ${code}: ${output}`)));
  });

  // Calls for a while (bounded), a crash halfway.
  const until = Date.now() + 8000;
  let killed = false;
  for (let index = 0; Date.now() < until && index < 4000; index++) {
    await Promise.all([orders.micro.services.userService.getUser({ id: index }).catch(() => {}), orders.micro.services.inventoryService.getStock({ sku: `a${index % 7}` }).catch(() => {})]);
    if (!killed && Date.now() > until - 5000) {
      killed = true;
      second.process.kill('SIGKILL');
    }
    await sleep(15);
  }
  await sleep(1500);

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1200, height: 640 } });
  await page.goto(url);
  await page.waitForSelector(`td.status[data-instance="${second.url}"][data-status="DOWN"]`, { timeout: 15_000 });
  await page.waitForSelector('[data-service-stats="user-service"]', { timeout: 10_000 });
  await page.screenshot({ path: OUT });
  await browser.close();
  console.log(`wrote ${OUT}`);
} finally {
  for (const process_ of children) process_.kill('SIGTERM');
  for (const { micro, server } of servers) {
    await micro.close();
    server.closeAllConnections?.();
    server.close();
  }
}
