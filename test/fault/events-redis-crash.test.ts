// The durable events engine under crashes (Node only: it bundles a fixture with esbuild and runs
// it with node): three consumer processes of one group while 10,000 events are published; one
// consumer is SIGKILLed, another stopped and started again, and redis-server itself SIGKILLed and
// restarted (append-only file, fsync always). Asserts that no event is lost (every id handled at
// least once: the killed consumer's pending entries are claimed by the others after claimIdle,
// those delivered just before Redis went away are re-read) and counts the duplicates
// (at-least-once). test/fault/events-redis.test.ts covers the engine's rules one by one.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventError } from '../../src/errors/index.ts';
import { redisEvents } from '../../src/events/redis/index.ts';
import type { EventMessage } from '../../src/events/types.ts';
import { recordingLogger, waitFor } from '../helpers.ts';
import { RedisServer, redisMissing } from '../support/redis-server.ts';

const reason = redisMissing();
if (reason) console.log(reason);

const TOTAL = 10_000;
const EVENT = 'order.created';
const GROUP = 'billing';
const CLAIM_IDLE = 1000;

let redis: RedisServer | undefined;
let dir = '';
let bundle = '';
const children = new Set<ChildProcess>();

interface Consumer {
  name: string;
  child: ChildProcess;
  results: string;
}

function startConsumer(name: string, prefix: string): Promise<Consumer> {
  const results = join(dir, `${name}.ids`);
  const child = spawn(process.execPath, [bundle], {
    env: {
      ...process.env,
      FIXTURE_REDIS: (redis as RedisServer).url,
      FIXTURE_PREFIX: prefix,
      FIXTURE_EVENT: EVENT,
      FIXTURE_GROUP: GROUP,
      FIXTURE_CONSUMER: name,
      FIXTURE_RESULTS: results,
      FIXTURE_CLAIM_IDLE: String(CLAIM_IDLE),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${output}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('READY')) {
        clearTimeout(timer);
        resolve({ name, child, results });
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${output}`)));
  });
}

function stop(consumer: Consumer, signal: 'SIGKILL' | 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${consumer.name} did not exit within 15 s of ${signal}`)), 15_000);
    consumer.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    consumer.child.kill(signal);
  });
}

/** Every id handled, per consumer file, with repeats. */
function handled(files: string[]): string[] {
  return files.flatMap((file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => line.split(' ')[0] as string) : []));
}

(reason ? describe.skip : describe)('events: Redis Streams under crashes', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'em-redis-crash-'));
    bundle = join(dir, 'redis-consumer.cjs');
    const esbuild = await import('esbuild');
    await esbuild.build({ entryPoints: [fileURLToPath(new URL('../fixtures/redis-consumer.ts', import.meta.url))], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: bundle, logLevel: 'silent' });
    redis = await RedisServer.start(true);
  }, 30_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await redis?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses none of 10,000 events while a consumer is SIGKILLed, another restarted and redis-server restarted', async () => {
    const server = redis as RedisServer;
    const prefix = `em-crash-${Date.now()}`;
    const stream = `${prefix}:${EVENT}`;
    // The group exists before anything is published (a group starts at the stream's end).
    const admin = createClient({ url: server.url, RESP: 2 });
    admin.on('error', () => {});
    await admin.connect();
    await admin.sendCommand(['XGROUP', 'CREATE', stream, GROUP, '$', 'MKSTREAM']);
    await admin.close();

    const consumers = [await startConsumer('c1', prefix), await startConsumer('c2', prefix), await startConsumer('c3', prefix)];
    const files = () => consumers.map((consumer) => consumer.results);
    const { logger, lines } = recordingLogger();
    const publisher = redisEvents(
      { type: 'redis', url: server.url, prefix, maxAttempts: 5, maxInFlight: 16, claimIdle: CLAIM_IDLE, maxLength: 1_000_000 },
      { consumer: 'publisher', logger, retried() {}, deadLettered() {}, claimed() {} },
    );
    const ids: string[] = [];
    let stored = 0;
    let rejected = 0;
    const faults: Promise<void>[] = [];
    const deadline = Date.now() + 60_000;
    /** Publishes until stored, as an app that must not lose an event would: an 'unavailable' rejection is retried. */
    const publish = async (index: number) => {
      const message: EventMessage = { id: `crash-${String(index).padStart(5, '0')}`, event: EVENT, emitter: 'order-service', from: 'publisher-01', time: Date.now(), payload: { index } };
      ids.push(message.id);
      for (;;) {
        try {
          await publisher.publish(message);
          stored++;
          return;
        } catch (error) {
          if (!(error instanceof EventError) || error.reason !== 'unavailable' || Date.now() > deadline) throw error;
          rejected++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    };
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < TOTAL) {
          const index = next++;
          // The faults, each once, at a point of the run (not after a fixed time).
          if (index === 2000) faults.push(stop(consumers[0] as Consumer, 'SIGKILL').then(() => {}));
          if (index === 4000) {
            faults.push(
              stop(consumers[1] as Consumer, 'SIGTERM').then(async (code) => {
                expect(code).toBe(0);
                consumers.push(await startConsumer('c2-restarted', prefix));
              }),
            );
          }
          if (index === 6000) faults.push(server.kill().then(() => server.restart()));
          await publish(index);
        }
      }),
    );
    await Promise.all(faults);
    const publishedIn = Date.now() - started;
    expect(stored).toBe(TOTAL);
    expect(rejected).toBeGreaterThan(0);

    await waitFor(() => new Set(handled(files())).size === TOTAL, `all ${TOTAL} events handled`, Math.max(10_000, deadline - Date.now()));
    const all = handled(files());
    const unique = new Set(all);
    const lost = ids.filter((id) => !unique.has(id));
    expect(lost).toEqual([]);
    const duplicates = all.length - unique.size;
    const claimed = handled(files().map((file) => `${file}.claimed`)).length;
    // c1 died with entries in flight: the others took them over.
    expect(claimed).toBeGreaterThan(0);
    const perConsumer = consumers.map((consumer) => `${consumer.name} ${handled([consumer.results]).length}`).join(', ');
    console.log(
      `redis crash test: ${TOTAL} events published in ${publishedIn} ms (${rejected} publish attempts rejected while Redis was down, retried); 0 lost; ${duplicates} duplicates (handled more than once); ${claimed} claimed from a stopped consumer; per consumer: ${perConsumer}; done in ${Date.now() - started} ms`,
    );
    // Everything acknowledged in the end: nothing pending with the killed consumer either.
    const check = createClient({ url: server.url, RESP: 2 });
    check.on('error', () => {});
    await check.connect();
    await waitFor(async () => Number(((await check.sendCommand(['XPENDING', stream, GROUP])) as unknown[])[0]) === 0, 'nothing pending', 15_000);
    await check.close();
    await publisher.close();
    expect(lines.filter((line) => line.includes('unreachable'))).toHaveLength(1);
    for (const consumer of consumers) if (consumer.child.exitCode === null && consumer.child.signalCode === null) await stop(consumer, 'SIGTERM');
  }, 90_000);
});
