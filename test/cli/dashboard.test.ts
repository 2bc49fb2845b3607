/**
 * The dashboard in a real headless browser (Debian's Chromium, driven by playwright-core): it
 * lists the services and their instances (with their zones, labels and subscriptions), and a killed instance turns SUSPECT, then DOWN, on the
 * page without a reload, with a timeline entry; the call rate is non-zero after calls; the page
 * never holds the secret, and a page reached by another name (DNS rebinding, simulated with
 * Chromium's own resolver rules) is refused. Needs `npm run build` (the user-service children run
 * the built package). Skips with one line where there is no Chromium, except under CI.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, SECRET, spawnService, startService, stopAll, waitFor, type ChildService, type TestService } from '../helpers.ts';
import { tempFolder } from './support.ts';
import { browserUnavailable, CHROMIUM, startDashboard, type RunningDashboard } from './dashboard-support.ts';

const reason = browserUnavailable(existsSync);
if (reason) console.log(`skip: the dashboard in a browser (${reason})`);

const PING_INTERVAL = 250;
const REFRESH = 250;
const SUSPICION_MULTIPLIER = 4;
/** This machine is small and shared: every bound below gets this much on top. */
const SLACK = 5000;

describe.skipIf(reason !== undefined)('express-micro dashboard in a browser', () => {
  const folder = tempFolder('dashboard');
  const screenshots = mkdtempSync(join(tmpdir(), 'express-micro-dashboard-'));
  let users: ChildService[] = [];
  let orders: TestService;
  let dashboard: RunningDashboard;
  let browser: Browser;
  let page: Page;
  let calling = true;
  let callsMade = 0;
  let background: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    const secretFile = join(folder.path, 'secret.key');
    const { writeFileSync, chmodSync } = await import('node:fs');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    chmodSync(secretFile, 0o600);
    const options = { pingInterval: PING_INTERVAL, suspicionMultiplier: SUSPICION_MULTIPLIER };
    const seed = await spawnService('user-service', { ...options, zone: 'zone-a', metadata: { version: '2', track: 'canary' } });
    users = [seed, await spawnService('user-service', { ...options, peers: [seed.url] })];
    orders = await startService('order-service', () => {}, { ...options, peers: [seed.url] });
    orders.micro.subscribe('order.created', () => {});
    orders.micro.subscribe('cache.flush', () => {}, { group: 'caches' });
    await waitFor(() => orders.micro.peers().filter((peer) => peer.service === 'user-service' && peer.status === 'UP').length === 2, 'order-service sees both user-service instances', 20_000);
    // Calls in the background, bounded in count, so the rates have something to show.
    background = (async () => {
      while (calling && callsMade < 5000) {
        callsMade++;
        await orders.micro.services.userService.getUser({ id: callsMade }).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    dashboard = await startDashboard(['--peer', seed.url, '--peer', orders.url, '--port', '0', '--interval', String(REFRESH), '--secret-file', secretFile]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--host-resolver-rules=MAP rebound.test 127.0.0.1'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  }, 60_000);

  afterAll(async () => {
    calling = false;
    await background;
    await browser?.close();
    await dashboard?.stop();
    await killAll();
    await stopAll();
    folder.remove();
  }, 30_000);

  const status = (url: string): Promise<string | null> => page.locator(`td.status[data-instance="${url}"]`).getAttribute('data-status', { timeout: 1000 }).catch(() => null);

  it('lists the services and every instance, UP, and shows it is live', async () => {
    await page.goto(dashboard.url);
    await page.waitForSelector('section[data-service="user-service"]', { timeout: 10_000 });
    await page.waitForSelector('section[data-service="order-service"]', { timeout: 10_000 });
    for (const user of users) await page.waitForSelector(`td.status[data-instance="${user.url}"][data-status="UP"]`, { timeout: 10_000 });
    await page.waitForSelector(`td.status[data-instance="${orders.url}"][data-status="UP"]`, { timeout: 10_000 });
    expect(await page.locator('#connection').getAttribute('data-state')).toBe('live');
    // The seed's zone and labels on its row; the other instance has neither.
    const seedRow = page.locator('tr', { has: page.locator(`td.status[data-instance="${users[0]?.url}"]`) });
    expect(await seedRow.locator('td[data-zone]').textContent()).toBe('zone-a');
    expect(await seedRow.locator('td.labels').textContent()).toBe('version=2 track=canary');
    const otherRow = page.locator('tr', { has: page.locator(`td.status[data-instance="${users[1]?.url}"]`) });
    expect(await otherRow.locator('td[data-zone]').count()).toBe(0);
    // Subscriptions: order-service's names (groups in the tooltip), none on a user-service row.
    const ordersRow = page.locator('tr', { has: page.locator(`td.status[data-instance="${orders.url}"]`) });
    expect(await ordersRow.locator('td.events').textContent()).toBe('cache.flush, order.created');
    expect(await ordersRow.locator('td.events').getAttribute('title')).toBe('cache.flush (group caches)\norder.created (group order-service)');
    expect(await otherRow.locator('td.events').textContent()).toBe('—');
    // An empty timeline says so on one line (its grid once broke "no changes yet" over three):
    // measured on a second, empty timeline beside the live one, whose entries come and go.
    const { height, lineHeight } = await page.evaluate(() => {
      const live = document.getElementById('timeline') as HTMLElement;
      const probe = document.createElement('ol');
      probe.id = 'timeline';
      probe.innerHTML = '<li class="empty">no changes yet</li>';
      live.after(probe);
      const item = probe.firstElementChild as HTMLElement;
      const measured = { height: item.getBoundingClientRect().height, lineHeight: Number.parseFloat(getComputedStyle(item).lineHeight) || 20 };
      probe.remove();
      return measured;
    });
    expect(height).toBeLessThan(1.5 * lineHeight + 2 * 6);
  }, 30_000);

  it('shows a non-zero call rate for the service being called', async () => {
    await page.waitForFunction(() => {
      const stats = document.querySelector('[data-service-stats="user-service"] b');
      return stats !== null && Number.parseFloat(stats.textContent ?? '') > 0;
    }, undefined, { timeout: 10 * REFRESH + SLACK * 2 });
    const text = await page.locator('[data-service-stats="user-service"]').innerText();
    expect(text).toMatch(/calls \d+\.\d\/s\s+errors \d+\.\d %\s+p50 [\d.]+ ms\s+p95 [\d.]+ ms\s+p99 [\d.]+ ms/);
  }, 30_000);

  it('turns a killed instance SUSPECT or DOWN without a reload, then DOWN, with a timeline entry', async () => {
    const victim = users[1] as ChildService;
    let reloads = 0;
    page.on('load', () => reloads++);
    const killed = Date.now();
    await victim.kill();
    const notUp = 2 * PING_INTERVAL + REFRESH + SLACK;
    const first = await page.waitForFunction(
      (url) => {
        const shown = document.querySelector(`td.status[data-instance="${url}"]`)?.getAttribute('data-status');
        return shown === 'SUSPECT' || shown === 'DOWN' ? shown : false;
      },
      victim.url,
      { timeout: notUp },
    );
    const seenNotUp = Date.now() - killed;
    const firstShown = await first.jsonValue();
    // Lifeguard: a suspicion no one else confirms lasts up to 6 × the multiplier × the interval.
    const down = 2 * PING_INTERVAL + 6 * SUSPICION_MULTIPLIER * PING_INTERVAL + REFRESH + SLACK;
    await page.waitForFunction((url) => document.querySelector(`td.status[data-instance="${url}"]`)?.getAttribute('data-status') === 'DOWN', victim.url, { timeout: down });
    const seenDown = Date.now() - killed;
    console.log(`dashboard: the killed instance showed ${String(firstShown)} after ${seenNotUp} ms (bound ${notUp}), DOWN after ${seenDown} ms (bound ${down})`);
    await page.waitForSelector(`#timeline li[data-instance="${victim.url}"][data-kind="down"]`, { timeout: 2000 });
    expect(reloads).toBe(0);
    // The other instance is untouched.
    expect(await status((users[0] as ChildService).url)).toBe('UP');
    const path = join(screenshots, 'dashboard.png');
    await page.screenshot({ path, fullPage: true });
    console.log(`dashboard: screenshot at ${path}`);
  }, 60_000);

  it('never holds the secret, in the page or anything it loaded', async () => {
    expect(await page.content()).not.toContain(SECRET);
    const snapshot = await page.evaluate(async () => (await fetch('/snapshot.json')).text());
    expect(snapshot).toContain('user-service');
    expect(snapshot).not.toContain(SECRET);
  });

  it('refuses a page that reaches it by another name (DNS rebinding)', async () => {
    const rebound = await browser.newPage();
    try {
      const answer = await rebound.goto(dashboard.url.replace('127.0.0.1', 'rebound.test'));
      expect(answer?.status()).toBe(403);
      expect(await rebound.content()).not.toContain('user-service');
      // And a page elsewhere cannot read it across origins (no CORS): the fetch fails.
      const read = await rebound.evaluate(async (url) => fetch(`${url}/snapshot.json`).then((answer) => answer.text()).catch((error: Error) => `failed: ${error.name}`), dashboard.url);
      expect(read).toMatch(/^failed: TypeError/);
    } finally {
      await rebound.close();
    }
  });
});
