/**
 * Steady call traffic for rolling-restart tests (drain, rotation): workers alternate
 * `getUser` (GET) and `createOrder` (POST) on user-service, bounded in count and time, and tally
 * what succeeded, who served it, and every failure.
 */
import type { Services } from '../../src/index.ts';

/** A running load; `stop()` waits for the calls in flight. */
export interface Load {
  gets: number;
  posts: number;
  /** `GET: <error name>: <message>` per failed call. */
  failures: string[];
  /** Successful calls by the port that answered them. */
  servedBy: Map<number, number>;
  stop(): Promise<void>;
}

export interface LoadOptions {
  workers: number;
  maxCalls: number;
  maxMs: number;
  /** Where the calls go; default `services` itself (a getter lets a test swap the caller mid-run). */
  through?: () => Services;
}

export function runLoad(services: Services, options: LoadOptions): Load {
  const through = options.through ?? (() => services);
  const started = Date.now();
  let stopped = false;
  let calls = 0;
  const load: Load = { gets: 0, posts: 0, failures: [], servedBy: new Map(), stop: async () => {} };
  const worker = async (offset: number): Promise<void> => {
    for (let index = offset; !stopped && calls < options.maxCalls && Date.now() - started < options.maxMs; index++) {
      calls++;
      const post = index % 2 === 1;
      try {
        const users = through().userService;
        const answer = (post ? await users.createOrder({ item: index }) : await users.getUser({ id: index })) as { port: number };
        if (post) load.posts++;
        else load.gets++;
        load.servedBy.set(answer.port, (load.servedBy.get(answer.port) ?? 0) + 1);
      } catch (error) {
        load.failures.push(`${post ? 'POST' : 'GET'}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      }
    }
  };
  const running = Promise.all(Array.from({ length: options.workers }, (_, offset) => worker(offset)));
  load.stop = async () => {
    stopped = true;
    await running;
  };
  return load;
}
