/**
 * Bodies beyond JSON (docs/bodies.md): answers decoded by content type, exact bytes both ways,
 * streamed answers and uploads read at the reader's pace, limits and bad input. Every runtime.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, OptionError, RemoteError, ResponseTooLargeError } from '../../src/errors/index.ts';
import { signRequest } from '../../src/security/index.ts';
import { killAll, SECRET, spawnService, startService, stopAll, upInstances, waitFor, type TestService } from '../helpers.ts';

afterEach(async () => {
  await killAll();
  await stopAll();
});

const MiB = 1024 * 1024;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Bytes that are not UTF-8: every value 0-255, in a fixed pseudo-random order, after `head`. */
function binary(head: number[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  bytes.set(head);
  let state = 12345;
  for (let index = head.length; index < length; index++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

const PNG = binary([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe, 0x80], 4096);
const PDF = binary([...new TextEncoder().encode('%PDF-1.7\n%'), 0xe2, 0xe3, 0xcf, 0xd3, 0x0a], 8192);

/** A callee that counts its requests, and a caller joined to it. */
async function pair(define: (app: express.Express, micro: TestService['micro']) => void, callerOptions: Record<string, unknown> = {}, calleeOptions: Record<string, unknown> = {}): Promise<{ callee: TestService; caller: TestService }> {
  const callee = await startService('file-service', define, calleeOptions);
  const caller = await startService('caller', () => {}, { peers: [callee.url], ...callerOptions });
  await waitFor(() => upInstances(caller.micro, 'file-service').length === 1, 'the caller sees the file service');
  return { callee, caller };
}

/** Reads a web stream to its end, keeping only a running hash and count; `onChunk` sees each chunk's arrival. */
async function drain(stream: ReadableStream<Uint8Array>, onChunk: () => void = () => {}): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    bytes += value.byteLength;
    onChunk();
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** 64 MiB of one repeated 64 KiB chunk, and its SHA-256. */
const CHUNK = binary([], 64 * 1024);
const CHUNKS = 1024;
const BIG_SHA = (() => {
  const hash = createHash('sha256');
  for (let index = 0; index < CHUNKS; index++) hash.update(CHUNK);
  return hash.digest('hex');
})();

/** Writes 64 MiB to an Express response, waiting for 'drain' whenever the socket is full. */
async function writeBig(res: express.Response, chunks = CHUNKS): Promise<void> {
  res.status(200).type('application/octet-stream');
  for (let index = 0; index < chunks; index++) {
    if (!res.write(CHUNK)) await new Promise<void>((resolve) => res.once('drain', () => resolve()));
    if (res.destroyed) return;
  }
  res.end();
}

/** A web stream of 64 MiB, made as it is read. */
function bigStream(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === CHUNKS) return controller.close();
      sent++;
      controller.enqueue(CHUNK.slice());
    },
  });
}

describe('answers by content type', () => {
  it('gives PNG and PDF answers as their exact bytes, JSON parsed, text and XML as strings, 204 as undefined', async () => {
    const { caller } = await pair((app) => {
      app.get('/files/:name', (req, res) => {
        if (req.params.name === 'logo.png') return void res.type('image/png').send(Buffer.from(PNG));
        if (req.params.name === 'report.pdf') return void res.type('application/pdf').send(Buffer.from(PDF));
        res.status(404).json({ error: 'no such file' });
      });
      app.get('/json', (_req, res) => res.json({ ok: true }));
      app.get('/text', (_req, res) => res.type('text/plain').send('plain words'));
      app.get('/xml', (_req, res) => res.type('application/xml').send('<a>1</a>'));
      app.get('/form', (_req, res) => res.type('application/x-www-form-urlencoded').send('a=1&b=2'));
      app.get('/nothing', (_req, res) => res.status(204).end());
    });
    const files = caller.micro.services.fileService!;
    const png = await files.$call('GET', '/files/:name', { name: 'logo.png' });
    expect(png).toBeInstanceOf(Uint8Array);
    expect(sha256(png as Uint8Array)).toBe(sha256(PNG));
    expect(Object.getPrototypeOf(png)).toBe(Uint8Array.prototype);
    const pdf = await files.$call('GET', '/files/:name', { name: 'report.pdf' });
    expect(sha256(pdf as Uint8Array)).toBe(sha256(PDF));
    expect(await files.$call('GET', '/json')).toEqual({ ok: true });
    expect(await files.$call('GET', '/text')).toBe('plain words');
    expect(await files.$call('GET', '/xml')).toBe('<a>1</a>');
    expect(await files.$call('GET', '/form')).toBe('a=1&b=2');
    expect(await files.$call('GET', '/nothing')).toBeUndefined();
    // A missing file is still a RemoteError with its parsed JSON body.
    const error = await files.$call('GET', '/files/:name', { name: 'none' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).body).toEqual({ error: 'no such file' });
  });

  it('lets responseType override the content type', async () => {
    const { caller } = await pair((app) => {
      app.get('/json', (_req, res) => res.json({ ok: true }));
      app.get('/json-as-text', (_req, res) => res.type('text/plain').send('{"ok":true}'));
      app.get('/png', (_req, res) => res.type('image/png').send(Buffer.from(PNG)));
    });
    const files = caller.micro.services.fileService!;
    const text: string = await files.$call('GET', '/json', undefined, { responseType: 'text' });
    expect(text).toBe('{"ok":true}');
    const bytes: Uint8Array = await files.$call('GET', '/json', undefined, { responseType: 'bytes' });
    expect(new TextDecoder().decode(bytes)).toBe('{"ok":true}');
    expect(await files.$call('GET', '/json-as-text', undefined, { responseType: 'json' })).toEqual({ ok: true });
    const stream: ReadableStream<Uint8Array> = await files.$call('GET', '/png', undefined, { responseType: 'stream' });
    expect((await drain(stream)).sha256).toBe(sha256(PNG));
    // The call functions are typed by responseType too.
    const png: Uint8Array = await files.getPng(undefined, { responseType: 'bytes' });
    expect(sha256(png)).toBe(sha256(PNG));
  });

  it('fails a buffered answer past maxResponseBytes with ResponseTooLargeError; a stream of it is read whole', async () => {
    const big = binary([], 256 * 1024);
    const { caller } = await pair(
      (app) => {
        app.get('/export', (_req, res) => res.type('application/octet-stream').send(Buffer.from(big)));
      },
      { maxResponseBytes: 100_000 },
    );
    const files = caller.micro.services.fileService!;
    const error = await files.$call('GET', '/export').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as ResponseTooLargeError).limit).toBe(100_000);
    expect((error as Error).message).toMatch(/maxResponseBytes \(100000 bytes\).*responseType: 'stream'/);
    const streamed = await drain(await files.$call('GET', '/export', undefined, { responseType: 'stream' }));
    expect(streamed.sha256).toBe(sha256(big));
  });

  it('keeps the first 64 KiB of an error answer in its RemoteError', async () => {
    const { caller } = await pair((app) => {
      app.get('/broken', (_req, res) => res.status(500).type('text/plain').send('x'.repeat(MiB)));
    });
    const error = await caller.micro.services.fileService!.$call('GET', '/broken', undefined, { responseType: 'stream' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).status).toBe(500);
    expect((error as RemoteError).body).toBe('x'.repeat(64 * 1024));
  });
});

describe('raw request bodies', () => {
  it('sends a 1 MiB raw PUT byte for byte with its content type; arguments fill the path and the query', async () => {
    const upload = binary([0xff, 0x00, 0xfe], MiB);
    const seen: Array<{ id: string; type: string | undefined; sha: string; length: number; query: unknown }> = [];
    const { caller } = await pair((app) => {
      app.put('/files/:id', express.raw({ type: () => true, limit: '2mb' }), (req, res) => {
        const body = req.body as Buffer;
        seen.push({ id: req.params.id as string, type: req.headers['content-type'], sha: sha256(body), length: body.length, query: req.query });
        res.status(204).end();
      });
    });
    const files = caller.micro.services.fileService!;
    await files.$call('PUT', '/files/:id', { id: 'a1', version: 3 }, { body: upload, headers: { 'Content-Type': 'image/png' } });
    await files.$call('PUT', '/files/:id', { id: 'a2' }, { body: upload.buffer as ArrayBuffer });
    await files.$call('PUT', '/files/:id', { id: 'a3' }, { body: new Blob([PDF as BlobPart], { type: 'application/pdf' }) });
    await files.$call('PUT', '/files/:id', { id: 'a4' }, { body: 'some text', headers: { 'content-type': 'text/plain' } });
    // A Node Readable, recognised without node:* in the library, and a plain async generator.
    await files.$call('PUT', '/files/:id', { id: 'a5' }, { body: Readable.from([upload.subarray(0, MiB / 2), upload.subarray(MiB / 2)]) });
    await files.$call('PUT', '/files/:id', { id: 'a6' }, { body: (async function* () { yield upload.subarray(0, 1000); yield upload.subarray(1000); })() });
    expect(seen).toEqual([
      { id: 'a1', type: 'image/png', sha: sha256(upload), length: MiB, query: { version: '3' } },
      { id: 'a2', type: 'application/octet-stream', sha: sha256(upload), length: MiB, query: {} },
      { id: 'a3', type: 'application/pdf', sha: sha256(PDF), length: PDF.length, query: {} },
      { id: 'a4', type: 'text/plain', sha: sha256(new TextEncoder().encode('some text')), length: 9, query: {} },
      { id: 'a5', type: 'application/octet-stream', sha: sha256(upload), length: MiB, query: {} },
      { id: 'a6', type: 'application/octet-stream', sha: sha256(upload), length: MiB, query: {} },
    ]);
  });

  it('refuses a body it cannot send, and a body on a GET, before sending anything', async () => {
    let requests = 0;
    const { caller } = await pair((app) => {
      app.use((_req, _res, next) => {
        requests++;
        next();
      });
      app.put('/files/:id', (_req, res) => res.status(204).end());
      app.get('/files/:id', (_req, res) => res.status(204).end());
    });
    const files = caller.micro.services.fileService!;
    for (const body of [{ name: 'x' }, 42, null, [1, 2]]) {
      const error = await files.$call('PUT', '/files/:id', { id: 1 }, { body: body as unknown as string }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OptionError);
      expect((error as OptionError).option).toBe('body');
      expect((error as Error).message).toMatch(/must be a Uint8Array, ArrayBuffer, Blob, string or readable stream/);
    }
    const get = await files.$call('GET', '/files/:id', { id: 1 }, { body: 'x' }).catch((caught: unknown) => caught);
    expect(get).toBeInstanceOf(OptionError);
    expect((get as Error).message).toMatch(/cannot be sent with GET/);
    expect(requests).toBe(0);
  });

  it('fails with ConnectionError when the caller\'s stream errors mid-way; the callee sees the request aborted', async () => {
    let ended = false;
    let broken = false;
    let received = 0;
    const { caller } = await pair((app) => {
      app.post('/uploads', (req, res) => {
        req.on('data', (chunk: Uint8Array) => (received += chunk.byteLength));
        req.on('end', () => {
          ended = true;
          res.status(201).end();
        });
        req.on('error', () => (broken = true));
        req.on('aborted', () => (broken = true));
        req.on('close', () => (broken ||= !ended));
      });
    });
    let sent = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 4) controller.enqueue(CHUNK.slice());
        else controller.error(new Error('the disk went away'));
      },
    });
    const error = await caller.micro.services.fileService!.$call('POST', '/uploads', undefined, { body: failing }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectionError);
    await waitFor(() => broken, 'the callee saw the request break off');
    expect(ended).toBe(false);
    expect(received).toBeLessThan(5 * CHUNK.byteLength);
  });

  it('never retries a stream once it started: a callee that breaks the connection mid-body gets one request, the caller one ConnectionError', async () => {
    let requests = 0;
    const route = (app: express.Express): void => {
      app.put('/uploads/:id', (req) => {
        requests++;
        req.once('data', () => req.socket.destroy());
      });
    };
    const first = await startService('file-service', route);
    const second = await startService('file-service', route, { peers: [first.url] });
    const caller = await startService('caller', () => {}, { peers: [first.url], retries: 3 });
    await waitFor(() => upInstances(caller.micro, 'file-service').length === 2, 'the caller sees both file services');
    const error = await caller.micro.services.fileService!.$call('PUT', '/uploads/:id', { id: 1 }, { body: bigStream() }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(requests).toBe(1);
    void second;
  });
});

describe('streams at the reader\'s pace', () => {
  // Each side's memory is measured in a process of its own (test/fixtures/transfer-probe.mjs):
  // the test runner's own allocations would blur it. glibc's malloc is told to give blocks of
  // 64 KiB and up back to the system when freed (not to keep them in its heap, where freed socket
  // buffers fragment it and RSS climbs with what is no longer held); Bun's allocator ignores it.
  const PROBE_ENV = { MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '131072' };
  it('reads a 64 MiB streamed answer with the caller\'s RSS growing by less than 32 MiB', async () => {
    const callee = await startService('file-service', (app) => {
      app.get('/export', (req, res) => void writeBig(res, req.query.bytes === undefined ? CHUNKS : 1));
    });
    const probe = await spawnService('probe', { peers: [callee.url] }, 0, 'transfer-probe.mjs', PROBE_ENV);
    await waitFor(() => upInstances(callee.micro, 'probe').length === 1, 'the probe joined', 10_000);
    // The first transfer warms the probe (its HTTP client, its code paths); the second is measured.
    await (await fetch(`${probe.url}/pull`, { method: 'POST' })).json();
    await waitFor(() => upInstances(callee.micro, 'probe').length === 1, 'the probe is seen again', 20_000);
    const answer = await (await fetch(`${probe.url}/pull`, { method: 'POST' })).json();
    expect(answer).toMatchObject({ bytes: CHUNKS * CHUNK.byteLength, sha256: BIG_SHA });
    expect(answer.growth).toBeLessThan(32 * MiB);
  }, 60_000);

  it('sends a 64 MiB streamed upload with the callee\'s RSS growing by less than 32 MiB', async () => {
    const probe = await spawnService('file-service', {}, 0, 'transfer-probe.mjs', PROBE_ENV);
    const caller = await startService('caller', () => {}, { peers: [probe.url] });
    await waitFor(() => upInstances(caller.micro, 'file-service').length === 1, 'the caller sees the probe', 10_000);
    // The first transfer warms the probe (its code paths); the second is measured.
    await caller.micro.services.fileService!.$call('PUT', '/imports/:id', { id: 0 }, { body: bigStream(), timeout: 60_000 });
    // A busy probe can miss a ping or two (Deno): it is back in the caller's view before the next.
    await waitFor(() => upInstances(caller.micro, 'file-service').length === 1, 'the caller sees the probe again', 20_000);
    const answer = await caller.micro.services.fileService!.$call<{ bytes: number; sha256: string; growth: number }>('PUT', '/imports/:id', { id: 9 }, { body: bigStream(), timeout: 60_000 });
    expect(answer).toMatchObject({ bytes: CHUNKS * CHUNK.byteLength, sha256: BIG_SHA });
    expect(answer.growth).toBeLessThan(32 * MiB);
  }, 60_000);
});

describe('signed raw bodies (enableHmac)', () => {
  it('signs raw bytes as they are: requireSignature lets them through exact, refuses a tampered body, and a stream is refused before sending', async () => {
    let received: Uint8Array | undefined;
    let requests = 0;
    const { callee, caller } = await pair(
      (app, micro) => {
        app.use((_req, _res, next) => {
          requests++;
          next();
        });
        app.post('/signed', micro.requireSignature(), (req, res) => {
          received = req.body as Uint8Array;
          res.status(204).end();
        });
      },
      { enableHmac: true },
      { enableHmac: true },
    );
    const files = caller.micro.services.fileService!;
    await files.$call('POST', '/signed', undefined, { body: PNG, headers: { 'content-type': 'image/png' } });
    expect(received).toBeInstanceOf(Uint8Array);
    expect(sha256(received as Uint8Array)).toBe(sha256(PNG));
    expect(requests).toBe(1);

    // The same signature over other bytes: refused.
    const audience = callee.micro.peers().find((peer) => peer.self)?.id ?? '';
    const headers = signRequest(SECRET, 'POST', '/signed', PNG, Date.now(), audience);
    const tampered = PNG.slice();
    tampered[100] = (tampered[100] as number) ^ 1;
    const refused = await fetch(`${callee.url}/signed`, { method: 'POST', headers: { ...headers, 'content-type': 'image/png' }, body: tampered });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: 'unauthorized', reason: 'body does not match its signed hash' });

    const before = requests;
    const error = await files.$call('POST', '/signed', undefined, { body: bigStream() }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OptionError);
    expect((error as Error).message).toMatch(/is a stream, and enableHmac signs the SHA-256 of every body/);
    expect(requests).toBe(before);
  });
});
