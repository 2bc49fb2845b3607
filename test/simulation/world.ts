/**
 * A deterministic simulation of a cluster: many `Cluster`s (the library's own membership code)
 * in one process, on a virtual clock, talking through an in-process network with seeded loss
 * and delay. Nothing is sent on any socket. Messages go through `answerMessage`, the same
 * validation and dispatch the HTTP endpoints use.
 */
import { answerMessage, Cluster, type Clock, type DiscoveryClient } from '../../src/discovery/index.ts';
import type { Timer } from '../../src/runtime/index.ts';
import { seeded } from '../support/random.ts';

export { seeded };

interface Task {
  at: number;
  seq: number;
  run: () => void;
  cancelled: boolean;
}

/** Virtual time: tasks run in time order, and promise continuations settle between milliseconds. */
export class VirtualClock implements Clock {
  #now = 1_700_000_000_000;
  #seq = 0;
  readonly #buckets = new Map<number, Task[]>();
  readonly #times: number[] = [];

  now(): number {
    return this.#now;
  }

  after(ms: number, run: () => void): Timer {
    const at = this.#now + Math.max(0, Math.ceil(ms));
    const task: Task = { at, seq: this.#seq++, run, cancelled: false };
    let bucket = this.#buckets.get(at);
    if (!bucket) {
      bucket = [];
      this.#buckets.set(at, bucket);
      insertSorted(this.#times, at);
    }
    bucket.push(task);
    return { stop: () => void (task.cancelled = true) };
  }

  /** Runs everything due up to `ms` from now, a millisecond at a time. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await settle();
    while (this.#times.length > 0 && (this.#times[0] as number) <= until) {
      const at = this.#times.shift() as number;
      this.#now = at;
      // Tasks added for this same millisecond while it runs go into the same bucket.
      const bucket = this.#buckets.get(at) as Task[];
      for (let index = 0; index < bucket.length; index++) {
        const task = bucket[index] as Task;
        if (!task.cancelled) task.run();
        if (index === bucket.length - 1) await settle();
      }
      this.#buckets.delete(at);
    }
    this.#now = until;
  }
}

function insertSorted(times: number[], at: number): void {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((times[middle] as number) < at) low = middle + 1;
    else high = middle;
  }
  times.splice(low, 0, at);
}

/** Lets every pending promise continuation run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One message on the simulated network: a request, or the answer to one (`answer`). */
export interface Message {
  from: SimulatedNode;
  to: SimulatedNode;
  endpoint: string;
  payload: unknown;
  answer: boolean;
}

/** What the network does to messages. */
export interface Faults {
  /** Chance that a request, or its answer, is lost (each way, independently). */
  loss: number;
  /** One-way delay, uniformly between these, in ms. */
  delay: [number, number];
}

/** One simulated instance. */
export interface SimulatedNode {
  readonly index: number;
  readonly url: string;
  readonly cluster: Cluster;
  /** Discovery requests this node has received. */
  received: number;
  /** Requests this node has sent, and the bytes of JSON it has sent (requests and answers), while `World.counting`. */
  sent: number;
  bytesSent: number;
  /** What its logger warned and told (info). */
  warnings: string[];
  infos: string[];
  /** Crashed: connections are refused, nothing it sends arrives. */
  crashed: boolean;
  downs: string[];
  suspects: string[];
}

class Refused extends Error {}
class TimedOut extends Error {}

const ENDPOINTS = new Set(['register', 'describe', 'ping', 'ping-req', 'gossip', 'leave']);

/** A cluster of simulated nodes on one virtual clock and network. */
export class World {
  readonly clock = new VirtualClock();
  readonly nodes: SimulatedNode[] = [];
  readonly #byUrl = new Map<string, SimulatedNode>();
  readonly #random: () => number;
  faults: Faults = { loss: 0, delay: [1, 5] };
  /** Pairs (`from>to` by index) whose messages are dropped: a partition. */
  readonly cut = new Set<string>();
  /**
   * Sees every message that reaches the network (before loss): returning 'drop' loses it; it may
   * also change the payload (say, strip news). Tests use it to lose particular messages.
   */
  intercept: ((message: Message) => 'drop' | undefined) | undefined;
  /** Count messages and bytes sent (`SimulatedNode.sent`, `bytesSent`): JSON.stringify of each. */
  counting = false;

  constructor(
    readonly seed: number,
    readonly interval = 1000,
  ) {
    this.#random = seeded(seed);
  }

  /** Adds and starts node `index`, with `seeds` as its peers. */
  add(seeds: string[]): SimulatedNode {
    const index = this.nodes.length;
    const url = `http://127.0.0.1:${20_000 + index}`;
    const clock = this.clock;
    const node = { index, url, received: 0, sent: 0, bytesSent: 0, warnings: [] as string[], infos: [] as string[], crashed: false, downs: [] as string[], suspects: [] as string[] } as SimulatedNode;
    const client: DiscoveryClient = { post: (origin, path, payload, timeout) => this.#send(node, origin, path, payload, timeout) };
    const cluster = new Cluster(
      {
        name: `svc-${index % 10}`,
        peers: seeds,
        pingInterval: this.interval,
        pingTimeout: this.interval / 2,
        forgetAfter: 12 * this.interval,
        indirectChecks: 3,
        suspicionMultiplier: 4,
        logger: { info: (line) => void node.infos.push(line), warn: (line) => void node.warnings.push(line), error() {} },
        id: `node-${String(index).padStart(6, '0')}`,
        clock,
        random: seeded(this.seed * 7919 + index),
        resolve: async () => [],
      },
      client,
      () => [{ method: 'GET', path: `/things/${index % 10}`, names: ['getThing'] }],
    );
    Object.assign(node, { cluster });
    cluster.events.on('down', (instance) => node.downs.push(instance.id));
    cluster.events.on('suspect', (instance) => node.suspects.push(instance.id));
    this.nodes.push(node);
    this.#byUrl.set(url, node);
    cluster.start(url);
    return node;
  }

  #chance(p: number): boolean {
    return p > 0 && this.#random() < p;
  }

  #delay(): number {
    const [low, high] = this.faults.delay;
    return low + Math.floor(this.#random() * (high - low + 1));
  }

  #send(from: SimulatedNode, origin: string, path: string, payload: unknown, timeout: number): Promise<unknown> {
    const to = this.#byUrl.get(origin);
    const endpoint = path.replace('/_discovery/', '');
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (outcome: () => void): void => {
        if (done) return;
        done = true;
        timer.stop();
        outcome();
      };
      const timer = this.clock.after(timeout, () => finish(() => reject(new TimedOut(`timeout after ${timeout} ms`))));
      if (from.crashed) return; // nothing leaves a dead process
      if (!to || to.crashed) {
        this.clock.after(1, () => finish(() => reject(new Refused('connection refused'))));
        return;
      }
      if (!ENDPOINTS.has(endpoint) || this.cut.has(`${from.index}>${to.index}`)) return;
      if (this.intercept?.({ from, to, endpoint, payload, answer: false }) === 'drop' || this.#chance(this.faults.loss)) return;
      if (this.counting) {
        from.sent++;
        from.bytesSent += JSON.stringify(payload).length;
      }
      this.clock.after(this.#delay(), () => {
        if (to.crashed) return;
        to.received++;
        void answerMessage(to.cluster, endpoint as 'ping', payload).then((answer) => {
          if (to.crashed || this.cut.has(`${to.index}>${from.index}`)) return;
          if (this.intercept?.({ from: to, to: from, endpoint, payload: answer.payload, answer: true }) === 'drop' || this.#chance(this.faults.loss)) return;
          if (this.counting) to.bytesSent += JSON.stringify(answer.payload).length;
          this.clock.after(this.#delay(), () => finish(() => (answer.status === 200 ? resolve(answer.payload) : reject(new Error(`status ${answer.status}`)))));
        });
      });
    });
  }

  /** True when every live node knows every other live node as UP and not suspected. */
  converged(): boolean {
    const live = this.nodes.filter((node) => !node.crashed);
    for (const node of live) {
      let known = 0;
      for (const instance of node.cluster.table.instances()) if (instance.status === 'UP' && !instance.suspect) known++;
      if (known !== live.length) return false;
    }
    return true;
  }

  /** Advances in steps of `step` ms until `condition` holds or `limit` ms pass; returns the ms taken, or undefined. */
  async until(condition: () => boolean, limit: number, step = 50): Promise<number | undefined> {
    const start = this.clock.now();
    while (this.clock.now() - start <= limit) {
      if (condition()) return this.clock.now() - start;
      await this.clock.advance(step);
    }
    return condition() ? this.clock.now() - start : undefined;
  }

  /** Stops every node (without the leave round: the world is simply dropped). */
  stop(): void {
    for (const node of this.nodes) node.crashed = true;
    for (const node of this.nodes) void node.cluster.close();
  }
}

