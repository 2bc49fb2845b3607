// A member's connection is held until that member probes again (issue 27: with node:http's 5 s,
// every probe of a fleet was a new TCP connection on both sides). Node only: the hold is
// node:http's socket timeout.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { discovery, SECRET, startService, stopAll, upInstances, waitFor } from '../helpers.ts';

afterEach(stopAll);

/** Sends one gossip POST on a raw socket and resolves once the whole answer is in: its head, and the socket. */
function gossipOnce(port: number, extraHeaders = ''): Promise<{ head: string; socket: Socket; answeredAt: number }> {
  const body = JSON.stringify({ id: 'connection-test', updates: [] });
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(received)?.[1];
      if (end >= 0 && length !== undefined && received.length >= end + 4 + Number(length)) resolve({ head: received.slice(0, end), socket, answeredAt: performance.now() });
    });
    socket.write(
      `POST /_discovery/gossip HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${SECRET}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}`,
    );
  });
}

describe('member connections', () => {
  it('are answered with a keep-alive hint covering (N + 2) intervals and no Date header; the app’s own answers keep node:http’s', async () => {
    const seed = await startService('conn-seed', (app) => app.get('/hello', (_request, response) => void response.json({ hello: true })), { pingInterval: 5000 });
    const other = await startService('conn-other', () => {}, { pingInterval: 5000, peers: [seed.url] });
    await waitFor(() => upInstances(seed.micro, 'conn-other').length === 1 && upInstances(other.micro, 'conn-seed').length === 1, 'both members UP in both tables', 10_000);

    const answer = await discovery(seed.url, '/gossip', { method: 'POST', body: JSON.stringify({ id: 'connection-test', updates: [] }), headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(200);
    // Two members, 5 s intervals: (2 + 2) × 5 s + 1 s.
    expect(answer.headers.get('keep-alive')).toBe('timeout=21');
    expect(answer.headers.get('date')).toBeNull();

    const own = await fetch(`${seed.url}/hello`);
    expect(own.status).toBe(200);
    expect(own.headers.get('keep-alive')).toBe('timeout=5');
    expect(own.headers.get('date')).not.toBeNull();
  });

  it('stay open past a shorter server keep-alive timeout, and are closed once the hold is over', async () => {
    const seed = await startService('conn-held');
    // The app's server lets idle connections go after 1 s; a member's is held 5 s + 2 s.
    seed.server.keepAliveTimeout = 1000;
    const { head, socket, answeredAt } = await gossipOnce(seed.port);
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head.toLowerCase()).toContain('keep-alive: timeout=5');
    let closedAt: number | undefined;
    socket.once('close', () => (closedAt = performance.now()));
    await waitFor(() => closedAt !== undefined, 'the server to close the held connection', 30_000);
    // A lower bound only: a busy machine can make the close later, never earlier.
    expect(closedAt! - answeredAt).toBeGreaterThanOrEqual(4000);
  }, 40_000);

  it('close after the answer when the request asks for it', async () => {
    const seed = await startService('conn-close');
    const { head, socket } = await gossipOnce(seed.port, 'connection: close\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head.toLowerCase()).not.toContain('keep-alive');
    expect(head.toLowerCase()).toContain('connection: close');
    await waitFor(() => socket.closed || socket.readableEnded, 'the server to end the connection', 10_000);
  });
});
