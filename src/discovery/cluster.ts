import type { Logger } from '../options.ts';
import type { RouteDescriptor } from '../routes/index.ts';
import { every, sha256Hex, randomHex, type Timer } from '../runtime/index.ts';
import { Emitter } from './emitter.ts';
import { MembershipTable, type Instance } from './table.ts';
import { PeerAnswerError, type DiscoveryTransport } from './transport.ts';
import { PROTOCOL_VERSION, type Descriptor, type Member, type PingAnswer, type PingMessage, type RegisterMessage } from './types.ts';
import { parsePingAnswer, parseRegister } from './validate.ts';

/** What the cluster needs to know, taken from the resolved options. */
export interface ClusterSettings {
  name: string;
  peers: readonly string[];
  pingInterval: number;
  pingTimeout: number;
  forgetAfter: number;
  logger: Logger;
}

/** How long this instance's own routes are cached before they are read from the app again. */
const ROUTES_TTL = 1000;

/**
 * One instance's view of the cluster and the work that keeps it true: joining through the seed
 * peers, answering and sending register/ping/leave, and the periodic health round. The flows are
 * described in docs/ARCHITECTURE.md, "Discovery".
 */
export class Cluster {
  readonly id: string = randomHex(8);
  readonly events: Emitter;
  readonly table: MembershipTable;
  /** Settles when the first join round with the seed peers has finished. */
  readonly ready: Promise<void>;

  readonly #settings: ClusterSettings;
  readonly #transport: DiscoveryTransport;
  readonly #readRoutes: () => RouteDescriptor[];
  readonly #exchanges = new Map<string, Promise<void>>();
  readonly #pinging = new Set<string>();
  readonly #refusedBy = new Set<string>();
  /**
   * Instances that said they were leaving, by id, with when. An answer already on its way (a
   * register exchange in flight, a member list from a peer that has not heard yet) must not bring
   * a departed instance back UP; ids are kept for `forgetAfter`, then dropped.
   */
  readonly #departed = new Map<string, number>();
  #resolveReady: () => void = () => {};
  #self: Instance | undefined;
  #routesReadAt = 0;
  #timer: Timer | undefined;
  #closed = false;

  constructor(settings: ClusterSettings, transport: DiscoveryTransport, readRoutes: () => RouteDescriptor[]) {
    this.#settings = settings;
    this.#transport = transport;
    this.#readRoutes = readRoutes;
    this.events = new Emitter((error) => settings.logger.error(`express-micro: an event listener threw: ${String(error)}`));
    // Coming UP (first seen, or back after DOWN) is news at info; going DOWN is warned where the
    // failure is seen, with its reason.
    this.events.on('up', (instance) => settings.logger.info(`express-micro: ${instance.service} at ${instance.url} is UP`));
    this.table = new MembershipTable(this.events);
    this.ready = new Promise((resolve) => (this.#resolveReady = resolve));
  }

  /** This instance's URL once started. */
  get url(): string | undefined {
    return this.#self?.url;
  }

  get started(): boolean {
    return this.#self !== undefined;
  }

  /** Puts this instance in its own table, starts the health round and joins through the seeds. */
  start(url: string): void {
    if (this.#self || this.#closed) return;
    const routes = this.#readRoutes();
    this.#routesReadAt = Date.now();
    this.#self = this.table.upsert({ protocol: PROTOCOL_VERSION, name: this.#settings.name, id: this.id, url, routes, rev: revision(routes) }, true);
    this.#timer = every(this.#settings.pingInterval, () => this.#round());
    const seeds = this.#settings.peers.filter((peer) => peer !== url);
    void Promise.allSettled(seeds.map((seed) => this.exchange(seed))).then(() => this.#resolveReady());
  }

  /** This instance's descriptor, with its routes read again when the cached copy is old. */
  descriptor(): Descriptor {
    const self = this.#requireSelf();
    this.refreshRoutes(false);
    return { protocol: PROTOCOL_VERSION, name: self.name, id: self.id, url: self.url, routes: self.routes, rev: self.rev };
  }

  /** Reads this app's routes again (at most once a second unless `force`). */
  refreshRoutes(force: boolean): void {
    const self = this.#self;
    const now = Date.now();
    if (!self || (!force && now - this.#routesReadAt < ROUTES_TTL)) return;
    this.#routesReadAt = now;
    const routes = this.#readRoutes();
    const rev = revision(routes);
    if (rev !== self.rev) this.table.upsert({ protocol: PROTOCOL_VERSION, name: self.name, id: self.id, url: self.url, routes, rev }, true);
  }

  /**
   * Registers with the instance at `url` and merges what it answers: its descriptor (UP, heard
   * first-hand) and the members it knows, each of which is probed the same way before it counts.
   * At most one exchange per URL runs at a time; failures are logged, never thrown.
   */
  exchange(url: string): Promise<void> {
    if (this.#closed || !this.#self || url === this.#self.url) return Promise.resolve();
    const running = this.#exchanges.get(url);
    if (running) return running;
    const exchange = this.#register(url)
      .catch((error: unknown) => {
        const message = `express-micro: register with ${url} failed: ${String((error as Error)?.message ?? error)}`;
        const known = this.table.byUrl(url);
        // A refusal is a configuration error (another secret, enableHmac on one side only, an
        // allow-list): say so. A peer that is simply not up yet is retried quietly.
        // Warned once per peer until it accepts, not once per retry.
        const refused = error instanceof PeerAnswerError && (error.status === 401 || error.status === 403);
        if (known?.status === 'UP' && !this.#closed) {
          // Said once, when the exchange takes a live instance DOWN, as a failed ping says it.
          this.#settings.logger.warn(`express-micro: ${known.name} at ${url} is DOWN (register failed: ${String((error as Error)?.message ?? error)})`);
          this.table.markDown(known);
          if (refused) this.#refusedBy.add(url);
        } else if (refused && !this.#refusedBy.has(url)) {
          this.#refusedBy.add(url);
          this.#settings.logger.warn(message);
        } else this.#settings.logger.debug?.(message);
      })
      .finally(() => this.#exchanges.delete(url));
    this.#exchanges.set(url, exchange);
    return exchange;
  }

  async #register(url: string): Promise<void> {
    const message: RegisterMessage = { self: this.descriptor(), members: this.table.members() };
    const answer = parseRegister(await this.#transport.post(url, '/_discovery/register', message, this.#exchangeTimeout()));
    if (typeof answer === 'string') throw new Error(`invalid register answer: ${answer}`);
    this.#refusedBy.delete(url);
    if (this.#closed || answer.self.id === this.id || this.#departed.has(answer.self.id)) return;
    this.table.upsert(answer.self);
    this.#learn(answer.members);
  }

  /** Handles `POST /_discovery/register`: the sender is UP; answer with what this instance knows. */
  onRegister(message: RegisterMessage): RegisterMessage {
    const self = this.#requireSelf();
    if (message.self.id !== self.id && message.self.url !== self.url && !this.#departed.has(message.self.id)) {
      const known = this.table.get(message.self.id);
      // A known instance that is DOWN is not brought back UP on its own word: being reached by
      // it does not prove it can be reached (a slow or half-broken peer would flap UP/DOWN every
      // round). It is pinged at once instead; a timely answer marks it UP and fetches its routes.
      if (known?.status === 'DOWN') void this.#ping(known);
      else this.table.upsert(message.self);
      this.#learn(message.members);
    }
    return { self: this.descriptor(), members: this.table.members() };
  }

  /** Handles a ping: a sender this instance does not know yet is registered with. */
  onPing(message: PingMessage | undefined): PingAnswer {
    const self = this.#requireSelf();
    // A ping from a stranger (say, after this instance restarted) is answered with a register.
    // A known sender's status is left to this instance's own pings: being reached by it does not
    // prove it can be reached.
    if (message && message.id !== self.id && !this.table.get(message.id)) void this.exchange(message.url);
    this.refreshRoutes(false);
    return { id: self.id, name: self.name, rev: self.rev, digest: this.table.digest() };
  }

  /** Handles a leave: the instance is forgotten at once. */
  onLeave(id: string): void {
    // Only known ids are remembered, so leave messages cannot grow the map beyond the table.
    if (!this.table.get(id) || id === this.id) return;
    this.#departed.set(id, Date.now());
    this.table.remove(id);
  }

  #learn(members: Member[]): void {
    const self = this.#requireSelf();
    for (const member of members) {
      if (member.id !== self.id && member.url !== self.url && !this.table.get(member.id) && !this.#departed.has(member.id)) void this.exchange(member.url);
    }
  }

  #round(): void {
    if (this.#closed) return;
    const now = Date.now();
    for (const [id, since] of this.#departed) if (now - since > this.#settings.forgetAfter) this.#departed.delete(id);
    for (const instance of [...this.table.instances()]) {
      if (instance.self) continue;
      if (instance.status === 'DOWN' && now - instance.downSince > this.#settings.forgetAfter) {
        this.table.remove(instance.id);
        continue;
      }
      void this.#ping(instance);
    }
    // A seed that is not in the table (not up yet, restarted, or forgotten) is joined again.
    for (const seed of this.#settings.peers) {
      if (!this.table.byUrl(seed)) void this.exchange(seed);
    }
  }

  async #ping(instance: Instance): Promise<void> {
    if (this.#pinging.has(instance.id)) return;
    this.#pinging.add(instance.id);
    const self = this.#requireSelf();
    try {
      const message: PingMessage = { id: self.id, url: self.url, digest: this.table.digest() };
      const answer = parsePingAnswer(await this.#transport.post(instance.url, '/_discovery/ping', message, this.#settings.pingTimeout));
      if (this.#closed || !this.table.get(instance.id)) return;
      if (typeof answer === 'string') throw new Error(answer);
      if (answer.id !== instance.id) {
        // Another process now answers at this URL: the one we knew has restarted.
        this.table.remove(instance.id);
        void this.exchange(instance.url);
        return;
      }
      this.table.markUp(instance);
      if (answer.rev !== instance.rev || answer.digest !== this.table.digest()) void this.exchange(instance.url);
    } catch (error) {
      if (this.#closed) return;
      if (instance.status === 'UP') this.#settings.logger.warn(`express-micro: ${instance.name} at ${instance.url} is DOWN (${String((error as Error)?.message ?? error)})`);
      this.table.markDown(instance);
    } finally {
      this.#pinging.delete(instance.id);
    }
  }

  /** Called when a `services` call could not connect: the instance is DOWN until a ping says otherwise. */
  suspect(instance: Instance): void {
    if (!this.#closed) this.table.markDown(instance);
  }

  /** Stops the health round and tells every UP peer this instance is leaving. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.stop();
    this.#resolveReady();
    const self = this.#self;
    if (!self) return;
    // A peer with a register exchange still in flight adds this instance when the register
    // arrives, before this instance reads its answer: let the exchange settle, then tell it too.
    const targets = new Set(this.#exchanges.keys());
    await Promise.allSettled([...this.#exchanges.values()]);
    for (const instance of this.table.instances()) if (!instance.self && instance.status === 'UP') targets.add(instance.url);
    const timeout = Math.min(1000, this.#exchangeTimeout());
    await Promise.allSettled([...targets].map((url) => this.#transport.post(url, '/_discovery/leave', { id: self.id }, timeout)));
  }

  #exchangeTimeout(): number {
    return Math.max(1000, this.#settings.pingTimeout * 2);
  }

  #requireSelf(): Instance {
    if (!this.#self) throw new Error('express-micro: discovery used before the instance started');
    return this.#self;
  }
}

function revision(routes: RouteDescriptor[]): string {
  return sha256Hex(JSON.stringify(routes)).slice(0, 16);
}
