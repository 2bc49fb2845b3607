/**
 * An oversized `/_discovery` body gets a 413 the client reads, not a reset connection: the
 * instance reads and throws away the body up to a bound, then answers 413 with `Connection:
 * close`. The client is another process that sends the whole body with `fetch` (a 9 MB register
 * of 200,000 routes) before it reads the answer; in one process with the server the two sides
 * take turns on one event loop, and the reset does not show.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { signRequest } from '../../src/security/index.ts';
import { SECRET, startService, stopAll } from '../helpers.ts';

afterEach(stopAll);

const CLIENT = fileURLToPath(new URL('../fixtures/big-body-client.mjs', import.meta.url));

/** Runs the client (the same runtime as the test) and resolves with the line it printed. */
function sendWhole(url: string, headers: Record<string, string>, routes: number, chunked: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT], {
      env: { ...process.env, URL: url, HEADERS: JSON.stringify(headers), ROUTES: String(routes), CHUNKED: chunked ? '1' : '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the client did not finish within 30 s: ${output}`));
    }, 30_000);
    child.stdout?.on('data', (chunk: Uint8Array) => (output += new TextDecoder().decode(chunk)));
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(output.trim());
    });
  });
}

describe('an oversized /_discovery body', () => {
  it('gets a 413 with Connection: close that a client sending the whole 9 MB reads (Bearer, Content-Length)', async () => {
    const service = await startService('guarded');
    const line = await sendWhole(`${service.url}/_discovery/register`, { authorization: `Bearer ${SECRET}` }, 200_000, false);
    expect(line).toMatch(/^STATUS 413 close \{"error":"body larger than 1048576 bytes"\} \(sent \d+ bytes\)$/);
    expect(Number(/sent (\d+)/.exec(line)?.[1])).toBeGreaterThan(7_000_000);
    // The instance is fine, and so is its table.
    const ping = await fetch(`${service.url}/_discovery/ping`, { headers: { authorization: `Bearer ${SECRET}` } });
    expect(ping.status).toBe(200);
    expect(service.micro.peers().some((peer) => peer.service === 'big-service')).toBe(false);
  }, 40_000);

  it('gets a 413 too when signed (enableHmac) and sent in chunks of unknown length', async () => {
    const service = await startService('guarded', () => {}, { enableHmac: true });
    // Headers pass; the body never gets as far as its hash.
    const headers = signRequest(SECRET, 'POST', '/_discovery/register', 'not the body that is sent');
    const line = await sendWhole(`${service.url}/_discovery/register`, headers, 200_000, true);
    expect(line).toMatch(/^STATUS 413 close /);
  }, 40_000);
});
