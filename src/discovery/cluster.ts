import type { Logger } from '../options.ts';
import type { RouteDescriptor } from '../routes/index.ts';
import { monotonicNow, randomHex, resolveAddresses, TransportError, type Timer } from '../runtime/index.ts';
import { Broadcasts } from './broadcasts.ts';
import { systemClock, type Clock } from './clock.ts';
import { Emitter } from './emitter.ts';
import { HeardOf } from './heard-of.ts';
import { LocalHealth } from './local-health.ts';
import { LocalMember, type Identity } from './local-member.ts';
import { minimumSuspicion, Suspicion } from './suspicion.ts';
import { MembershipTable, state, type Instance } from './table.ts';
import type { GossipProtocol, MembershipSource } from './source.ts';
import { PeerAnswerError } from './transport.ts';
import {
  PROTOCOL_VERSION,
  type DescribeMessage,
  type Descriptor,
  type GossipMessage,
  type MemberState,
  type PingAnswer,
  type PingMessage,
  type PingRequestAnswer,
  type PingRequestMessage,
  type RegisterMessage,
} from './types.ts';
import { parseDescribe, parseGossip, parsePingAnswer, parsePingRequestAnswer, parseRegister } from './validate.ts';

/** What the cluster needs to know, taken from the resolved options. */
export interface ClusterSettings {
  name: string;
  peers: readonly string[];
  pingInterval: number;
  pingTimeout: number;
  forgetAfter: number;
  /** How many members are asked to probe a member that did not answer (SWIM's k). */
  indirectChecks: number;
  /** Scales the suspicion timeout (memberlist's SuspicionMult). */
  suspicionMultiplier: number;
  logger: Logger;
  /**
   * Other processes serve this instance's URL under the same id (node:cluster workers): closing
   * one of them must not tell the members that the instance left, since its siblings still answer.
   */
  shared?: boolean;
  /** This instance's labels and zone (options `metadata`, `zone`), published with its descriptor. */
  identity?: Identity;
  /** The simulation's: a fixed id, a virtual clock, a seeded random source, a resolver. */
  id?: string;
  clock?: Clock;
  random?: () => number;
  resolve?: (hostname: string) => Promise<string[]>;
  /** Told the round trip of each direct probe that got an ack, in ms (the metrics' histogram). */
  onRoundTrip?: (milliseconds: number) => void;
}

/** Sends one discovery request and returns the parsed JSON answer; throws on failure. */
export interface DiscoveryClient {
  post(origin: string, path: string, payload: unknown, timeout: number): Promise<unknown>;
}

/** News items riding on one message. */
const PIGGYBACK = 16;
/** How many members urgent news (a suspicion, a death, a refutation, a leave) is pushed to at once. */
const FANOUT = 4;
/** Push-pull with one random member every this many rounds (more above 32 members). */
const PUSH_PULL_ROUNDS = 10;
/** Descriptor fetches (`describe`) in flight at once: a joiner of a large cluster fetches many. */
const DESCRIBE_CONCURRENCY = 8;
/** Up to this many members, a leaver tells each; above, a few, and gossip does the rest. */
const TELL_ALL_ON_LEAVE = 32;
/** Members heard of but not described within this many intervals are reported (once per backlog). */
const DESCRIBE_LATE_INTERVALS = 10;

type ProbeResult = 'ack' | 'fail' | 'gone';

/**
 * One instance's view of the cluster and the SWIM membership protocol that keeps it true:
 * joining through the seeds, probing one member per round (directly, then through k others),
 * suspicion with refutation, gossip of every change, push-pull sync, leave. The flows are
 * described in docs/ARCHITECTURE.md, "Membership".
 */
export class Cluster implements MembershipSource, GossipProtocol {
  readonly events: Emitter;
  readonly table: MembershipTable;
  /** Settles when the first join round with the seed peers has finished. */
  readonly ready: Promise<void>;

  readonly #settings: ClusterSettings;
  readonly #client: DiscoveryClient;
  readonly #member: LocalMember;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #broadcasts = new Broadcasts();
  readonly #health = new LocalHealth();
  readonly #suspicions = new Map<string, Suspicion>();
  readonly #exchanges = new Map<string, Promise<void>>();
  readonly #urgent = new Set<string>();
  /**
   * Members this instance's last probe could not reach, even through others. Their own word (a
   * refutation) does not bring them back here: being reached by a member does not prove it can
   * be reached (a half-broken one would flap every round). A probe from here that succeeds does.
   */
  readonly #unreachable = new Set<string>();
  readonly #refusedBy = new Set<string>();
  readonly #warned = new Set<string>();
  /**
   * Instances that said they were leaving, by id, with when. News already on its way must not
   * bring a departed instance back; ids are kept for `forgetAfter`, then dropped.
   */
  readonly #departed = new Map<string, number>();
  readonly #describeQueue = new Set<string>();
  /** Members heard of but not described yet: described again, with backoff, until they are. */
  readonly #heardOf: HeardOf;
  /**
   * A backlog of members not described in time was reported: said again only after members were
   * described and none is left waiting (members merely forgotten do not end it).
   */
  #describeLate = false;
  #describedSinceLate = false;
  #describing = 0;
  #hot: MemberState[] = [];
  #hotTimer: Timer | undefined;
  #ring: Instance[] = [];
  #ringSelf = 0;
  #ringRevision = -1;
  #probing = false;
  #reconnectNext = 0;
  #rounds = 0;
  /** When the last periodic push-pull started (clock time, so a slow, stretched round does not delay it). */
  #lastPushPull = 0;
  #seeds: string[] = [];
  /** What each seed name last resolved to, so a change is logged once. */
  readonly #resolved = new Map<string, string>();
  #resolveReady: () => void = () => {};
  #timer: Timer | undefined;
  #closed = false;

  constructor(settings: ClusterSettings, client: DiscoveryClient, readRoutes: () => RouteDescriptor[]) {
    this.#settings = settings;
    this.#client = client;
    this.#clock = settings.clock ?? systemClock;
    this.#random = settings.random ?? Math.random;
    this.events = new Emitter((error) => settings.logger.error(`express-micro: an event listener threw: ${String(error)}`));
    // Coming UP (first seen, or back after DOWN) is news at info; going DOWN is warned where the
    // death is confirmed, with its reason.
    this.events.on('up', (instance) => settings.logger.info(`express-micro: ${instance.service} at ${instance.url} is UP`));
    this.table = new MembershipTable(this.events);
    this.#heardOf = new HeardOf(settings.pingInterval, settings.forgetAfter, this.#random);
    this.#member = new LocalMember(settings.name, settings.id ?? randomHex(8), this.table, readRoutes, () => this.#clock.now(), settings.identity);
    this.ready = new Promise((resolve) => (this.#resolveReady = resolve));
  }

  /** The gossip endpoints are answered by this cluster itself. */
  get gossip(): GossipProtocol {
    return this;
  }

  /** This instance's id: random, or the one `start` was given. */
  get id(): string {
    return this.#member.id;
  }

  /** This instance's URL once started. */
  get url(): string | undefined {
    return this.#member.instance?.url;
  }

  /** True once `close()` began (see GossipProtocol.leaving). */
  get leaving(): boolean {
    return this.#closed;
  }

  get started(): boolean {
    return this.#member.instance !== undefined;
  }

  /**
   * Puts this instance in its own table, starts the probe rounds and joins through the seeds.
   * `id` replaces the random id, for processes that share a URL and so must share an id.
   */
  start(url: string, id?: string): void {
    if (this.#closed || !this.#member.start(url, id)) return;
    this.#lastPushPull = this.#clock.now();
    this.#schedule();
    void this.#join().then(() => this.#resolveReady());
  }

  /** This instance's descriptor, with its routes read again when the cached copy is old. */
  descriptor(): Descriptor {
    return this.#member.descriptor();
  }

  /** Fetches `instance`'s descriptor again (`describe`): a call found its routes stale. */
  stale(instance: Instance): void {
    this.#describe(instance.url);
  }

  /** Reads this app's routes again (at most once a second unless `force`); new routes are gossiped. */
  refreshRoutes(force: boolean): void {
    // A new incarnation orders the news: members that hear it fetch the routes (`describe`).
    if (this.#member.refreshRoutes(force)) this.#broadcasts.add(state(this.#member.require()));
  }

  // ---- joining and syncing ------------------------------------------------------------------

  /** The seeds as addresses: a host name is resolved, and each address it has is a seed. */
  async #resolveSeeds(): Promise<string[]> {
    const resolve = this.#settings.resolve ?? resolveAddresses;
    const seeds: string[] = [];
    for (const peer of this.#settings.peers) {
      const url = new URL(peer);
      // https seeds keep their name: the certificate is for the name, not the address.
      const addresses = url.protocol === 'http:' ? await resolve(url.hostname) : [];
      if (addresses.length === 0) seeds.push(peer);
      const said = addresses.join(', ');
      if (addresses.length > 0 && addresses[0] !== url.hostname.replace(/^\[|\]$/g, '') && this.#resolved.get(peer) !== said) {
        this.#resolved.set(peer, said);
        this.#settings.logger.info(`express-micro: seed ${peer} resolves to ${said}; joining through each`);
      }
      for (const address of addresses) seeds.push(`http://${address.includes(':') ? `[${address}]` : address}:${url.port || '80'}`);
    }
    this.#seeds = [...new Set(seeds)];
    return this.#seeds;
  }

  async #join(): Promise<void> {
    const seeds = await this.#resolveSeeds();
    await Promise.allSettled(seeds.filter((seed) => seed !== this.#member.instance?.url).map((seed) => this.exchange(seed)));
  }

  /**
   * Push-pull with the instance at `url`: both send their descriptor and every member's state,
   * and merge what they get. At most one per URL at a time; failures are logged, never thrown.
   */
  exchange(url: string): Promise<void> {
    return this.#once('register', url, async () => {
      const message: RegisterMessage = { self: this.descriptor(), members: this.#members() };
      const answer = parseRegister(await this.#client.post(url, '/_discovery/register', message, this.#exchangeTimeout()));
      if (typeof answer === 'string') throw new Error(`invalid register answer: ${answer}`);
      if (this.#closed) return;
      this.#admit(answer.self);
      for (const member of answer.members) this.#merge(member);
    });
  }

  /** Fetches the descriptor (routes) of the instance at `url`, introducing this one in turn. */
  #describe(url: string): void {
    if (this.#closed || url === this.#member.instance?.url || this.#refusesPlain(url) || this.#exchanges.has(`describe ${url}`) || this.#describeQueue.has(url)) return;
    this.#describeQueue.add(url);
    this.#pumpDescribes();
  }

  #pumpDescribes(): void {
    for (const url of this.#describeQueue) {
      if (this.#describing >= DESCRIBE_CONCURRENCY) break;
      this.#describeQueue.delete(url);
      this.#describing++;
      void this.#once('describe', url, async () => {
        const message: DescribeMessage = { self: this.descriptor() };
        const answer = parseDescribe(await this.#client.post(url, '/_discovery/describe', message, this.#exchangeTimeout()));
        if (typeof answer === 'string') throw new Error(`invalid describe answer: ${answer}`);
        if (!this.#closed) this.#admit(answer.self);
      }).finally(() => {
        this.#describing--;
        // Not admitted: a member heard of is tried again later (`#retryDescribes`), not forgotten.
        this.#heardOf.failed(url, this.#clock.now());
        this.#pumpDescribes();
      });
    }
  }

  /**
   * Describes again the members heard of whose retry is due, and says once (not every round)
   * when members stay undescribed: while they do, calls cannot reach them.
   */
  #retryDescribes(now: number): void {
    for (const url of this.#heardOf.due(now)) this.#describe(url);
    const after = DESCRIBE_LATE_INTERVALS * this.#settings.pingInterval;
    const { late, failing } = this.#heardOf.late(now, after);
    if (late > 0 && !this.#describeLate) {
      this.#describeLate = true;
      this.#describedSinceLate = false;
      this.#settings.logger.warn(
        `express-micro: ${late} members heard of are still not described after ${after / 1000} s (${failing} of them failed at least once; ` +
          `${this.#describeQueue.size} describes waiting, ${this.#describing} in flight, at most ${DESCRIBE_CONCURRENCY} at once): calls cannot reach them until they are. ` +
          'This instance may be short of CPU or network, or cut off from them; it keeps trying',
      );
    } else if (this.#describeLate && this.#describedSinceLate && this.#heardOf.size === 0) {
      this.#describeLate = false;
      this.#settings.logger.info('express-micro: every member heard of is described now');
    }
  }

  /** Runs one exchange per key at a time, and says what went wrong, once where it matters. */
  #once(kind: 'register' | 'describe', url: string, run: () => Promise<void>): Promise<void> {
    if (this.#closed || !this.#member.instance || url === this.#member.instance.url) return Promise.resolve();
    const key = `${kind} ${url}`;
    const running = this.#exchanges.get(key);
    if (running) return running;
    const exchange = run()
      .then(() => void this.#refusedBy.delete(url))
      .catch((error: unknown) => this.#failed(kind, url, error))
      .finally(() => this.#exchanges.delete(key));
    this.#exchanges.set(key, exchange);
    return exchange;
  }

  #failed(kind: string, url: string, error: unknown): void {
    const detail = String((error as Error)?.message ?? error);
    const message = `express-micro: ${kind} with ${url} failed: ${detail}`;
    const status = error instanceof PeerAnswerError ? error.status : 0;
    if (status === 400 && detail.includes('unsupported protocol')) {
      this.#warnOnce(`protocol ${url}`, `${message}; it speaks another protocol version, and every instance of a cluster must speak protocol ${PROTOCOL_VERSION}`);
    } else if (error instanceof TransportError && error.handshake) {
      // A certificate that does not verify is configuration, not a network hiccup: said once per peer.
      this.#warnOnce(`tls ${url}`, `${message}; that peer is left out (is its certificate issued by a CA in tls.ca, and this instance's by one it trusts?)`);
    } else if (kind === 'register' && url.startsWith('https:') && error instanceof TransportError && error.kind === 'reset') {
      // Under TLS 1.3 a server that refuses the client's certificate closes the connection after
      // the handshake: the client sees only a reset. Say what it most likely means, once.
      this.#warnOnce(`tls ${url}`, `${message}; over TLS this is how a peer refuses this instance's certificate (is tls.cert issued by a CA it trusts?)`);
    } else if ((status === 401 || status === 403) && !this.#refusedBy.has(url)) {
      // A refusal is a configuration error (another secret, enableHmac on one side only, an
      // allow-list): said once per peer until it accepts. A peer not up yet is retried quietly.
      this.#refusedBy.add(url);
      this.#settings.logger.warn(message);
    } else this.#settings.logger.debug?.(message);
  }

  /** Warns `message` the first time `key` comes up, and logs it at debug after that. */
  #warnOnce(key: string, message: string): void {
    if (this.#warned.has(key)) return this.#settings.logger.debug?.(message);
    this.#warned.add(key);
    this.#settings.logger.warn(message);
  }

  /** Logs, once per reason, that a peer of another protocol version was refused. */
  refusedProtocol(reason: string): void {
    this.#warnOnce(`refused ${reason}`, `express-micro: refused a peer: ${reason}; every instance of a cluster must run an express-micro that speaks protocol ${PROTOCOL_VERSION}`);
  }

  /**
   * An instance's own descriptor, heard from it directly (it registered or described itself, or
   * answered): added when new, its routes updated, brought back when its incarnation is newer.
   */
  #admit(descriptor: Descriptor, inbound = false): void {
    const self = this.#member.require();
    if (descriptor.id === self.id || descriptor.url === self.url) return;
    if (this.#heardOf.described(descriptor.url)) this.#describedSinceLate = true;
    if (this.#departed.has(descriptor.id) || this.#refusesPlain(descriptor.url)) return;
    const now = this.#clock.now();
    const known = this.table.get(descriptor.id);
    if (!known && inbound && self.url.startsWith('https:')) {
      // Under TLS a member that introduced itself counts only once this instance has reached it:
      // one whose certificate does not verify here must never come UP.
      this.#admitOnceReached(descriptor);
      return;
    }
    if (!known) {
      const added = this.table.upsert(descriptor, false, now);
      this.#broadcasts.add(state(added));
      return;
    }
    const newer = descriptor.incarnation > known.incarnation;
    this.table.upsert(descriptor, false, now);
    // Being reached by a DOWN instance does not prove it can be reached: only a refutation (a
    // newer incarnation) brings it back, and a probe that reaches it carries the news it needs.
    if (newer) this.#refuted(known);
  }

  /** Pings a member that introduced itself, and admits it when it answers as itself. */
  #admitOnceReached(descriptor: Descriptor): void {
    const key = `reach ${descriptor.url}`;
    if (this.#closed || this.#exchanges.has(key)) return;
    const reached = this.#ping(undefined, descriptor.id, descriptor.url, this.#exchangeTimeout())
      .then((result) => {
        if (result === 'ack' && !this.#closed) this.#admit(descriptor);
      })
      .finally(() => this.#exchanges.delete(key));
    this.#exchanges.set(key, reached);
  }

  /**
   * An instance that uses TLS never sends over plain HTTP: a member at an http:// URL is left out,
   * and that is said once per URL (docs/ARCHITECTURE.md, "TLS").
   */
  #refusesPlain(url: string): boolean {
    if (!this.#member.instance?.url.startsWith('https:') || url.startsWith('https:')) return false;
    this.#warnOnce(`plain ${url}`, `express-micro: left out the member at ${url}: this instance uses TLS and never sends over plain http`);
    return true;
  }

  /** Handles `POST /_discovery/register`: merge the sender and its view; answer with ours. */
  onRegister(message: RegisterMessage): RegisterMessage {
    this.#admit(message.self, true);
    for (const member of message.members) this.#merge(member);
    return { self: this.descriptor(), members: this.#members() };
  }

  /** Handles `POST /_discovery/describe`: the sender introduces itself; answer with this instance. */
  onDescribe(message: DescribeMessage): DescribeMessage {
    this.#admit(message.self, true);
    return { self: this.descriptor() };
  }

  // ---- rounds and probes --------------------------------------------------------------------

  #schedule(): void {
    if (this.#closed) return;
    // Lifeguard: an instance in trouble probes less often as well as more patiently.
    const wait = this.#settings.pingInterval * this.#health.multiplier;
    const due = this.#clock.now() + wait;
    this.#timer = this.#clock.after(wait, () => this.#round(due));
  }

  #round(due: number): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    // A round that starts far too late means this instance's event loop was blocked: its own
    // trouble, which must stretch its timeouts rather than make it accuse others.
    if (now - due > this.#settings.pingInterval) this.#health.worse();
    this.#rounds++;
    for (const [id, since] of this.#departed) if (now - since > this.#settings.forgetAfter) this.#departed.delete(id);
    if (this.table.down > 0) {
      for (const instance of [...this.table.instances()]) {
        if (instance.status !== 'DOWN' || now - instance.downSince <= this.#settings.forgetAfter) continue;
        this.table.remove(instance.id);
        this.#unreachable.delete(instance.id);
      }
    }
    void this.#probeNext();
    this.#reconnect();
    this.#rejoin();
    this.#retryDescribes(now);
    if (now - this.#lastPushPull >= pushPullPeriod(this.table.alive, this.#settings.pingInterval)) {
      this.#lastPushPull = now;
      const [partner] = this.#pick(1, undefined);
      if (partner) void this.exchange(partner.url);
    }
    this.#schedule();
  }

  /**
   * Seeds not in the table are joined again (a DOWN one is pinged by `#reconnect` already); an
   * isolated instance resolves its seed names again first, every 5 rounds.
   */
  #rejoin(): void {
    const rejoin = (): void => {
      for (const seed of this.#seeds) if (!this.table.byUrl(seed)) void this.exchange(seed);
    };
    if (this.table.alive <= 1 && this.#rounds % 5 === 0) void this.#resolveSeeds().then(rejoin);
    else rejoin();
  }

  /**
   * The member to probe this round. Members (UP, this one included) stand in a ring sorted by id;
   * in time slot t (one probe interval long) each probes the member `1 + t mod (N - 1)` places
   * after itself. While views agree, that is a permutation: every member is probed by exactly
   * one other each interval (a crash is noticed within one), and over N - 1 intervals by every
   * other member in turn. SWIM's shuffled round-robin gives the second property, not the first.
   */
  #nextTarget(): Instance | undefined {
    const self = this.#member.require();
    if (this.#ringRevision !== this.table.revision) {
      this.#ring = [...this.table.instances()].filter((instance) => instance.status === 'UP').sort((a, b) => (a.id < b.id ? -1 : 1));
      this.#ringSelf = this.#ring.indexOf(self);
      this.#ringRevision = this.table.revision;
    }
    const ring = this.#ring;
    if (ring.length < 2) return undefined;
    const slot = Math.floor(this.#clock.now() / this.#settings.pingInterval);
    const target = ring[(this.#ringSelf + 1 + (slot % (ring.length - 1))) % ring.length] as Instance;
    return target.self ? undefined : target;
  }

  async #probeNext(): Promise<void> {
    if (this.#probing) return;
    const target = this.#nextTarget();
    if (!target) return;
    this.#probing = true;
    try {
      await this.#probe(target);
    } finally {
      this.#probing = false;
    }
  }

  /** Pings one DOWN member per round, with the news of its death: a live one refutes it. */
  #reconnect(): void {
    if (this.table.down === 0) return;
    const dead = [...this.table.instances()].filter((instance) => instance.status === 'DOWN');
    if (dead.length === 0) return;
    const target = dead[this.#reconnectNext++ % dead.length] as Instance;
    void this.#ping(target, target.id, target.url, this.#probeTimeout()).then((result) => {
      // Back from the dead (a partition healed): sync everything both sides missed.
      if (result === 'ack' && target.status === 'UP') void this.exchange(target.url);
    });
  }

  /**
   * SWIM's probe: a direct ping; no answer in time → ask k members to ping it too (and try once
   * more directly); still nothing → the member is suspected. Each probe without an answer from
   * the members asked to help counts against this instance's own health.
   */
  async #probe(target: Instance): Promise<void> {
    const timeout = this.#probeTimeout();
    const started = this.#clock.now();
    const direct = await this.#ping(target, target.id, target.url, timeout);
    if (direct === 'ack') return this.#health.better();
    if (direct === 'gone' || this.#closed || this.#stalled(started, timeout)) return;
    const helpers = this.#pick(this.#settings.indirectChecks, target.id);
    const outcomes = await Promise.all([this.#ping(target, target.id, target.url, timeout), ...helpers.map((helper) => this.#askToProbe(helper, target, timeout))]);
    const missing = outcomes.slice(1).filter((outcome) => outcome === 'none').length;
    if (missing > 0) this.#health.worse(missing);
    if (this.#closed || this.table.get(target.id) !== target || target.status !== 'UP') return;
    if (outcomes.includes('ack')) {
      // Alive, though not directly reachable from here: a suspicion only this process held goes.
      this.#unreachable.delete(target.id);
      if (!this.#suspicions.has(target.id)) this.table.markUp(target, this.#clock.now());
      return;
    }
    if (outcomes.includes('gone') || this.#stalled(started, timeout * 3)) return;
    this.#unreachable.add(target.id);
    this.#suspect(target, target.incarnation, this.id);
  }

  /** True when far more time passed than was allowed: this instance was not running. */
  #stalled(started: number, allowed: number): boolean {
    const stalled = this.#clock.now() - started > allowed + this.#settings.pingInterval;
    if (stalled) this.#health.worse();
    return stalled;
  }

  #probeTimeout(): number {
    return this.#settings.pingTimeout * this.#health.multiplier;
  }

  /** Pings `url`, expecting instance `id`. An answer from another id means the process restarted. */
  async #ping(known: Instance | undefined, id: string, url: string, timeout: number): Promise<ProbeResult> {
    const self = this.#member.require();
    const message: PingMessage = { id: self.id, url: self.url, target: id, updates: this.#news(known) };
    let answer: PingAnswer | string;
    const sent = monotonicNow();
    let roundTrip: number;
    try {
      answer = parsePingAnswer(await this.#client.post(url, '/_discovery/ping', message, timeout));
      roundTrip = monotonicNow() - sent;
    } catch (error) {
      if ((error instanceof PeerAnswerError && (error.status === 401 || error.status === 403)) || (error instanceof TransportError && error.handshake)) this.#failed('ping', url, error);
      return 'fail';
    }
    if (this.#closed) return 'gone';
    if (typeof answer === 'string') return 'fail';
    for (const update of answer.updates) this.#merge(update);
    if (answer.id !== id) {
      // Another process now answers at this URL: the one we knew has restarted.
      if (known && this.table.get(id) === known) this.table.remove(id);
      this.#describe(url);
      return 'gone';
    }
    // Wall time on a monotonic clock, not the membership clock: a measurement, not a decision.
    this.#settings.onRoundTrip?.(roundTrip);
    if (known && this.table.get(id) === known) {
      known.roundTripMs = roundTrip;
      this.#heard(known, answer.incarnation, answer.rev);
    }
    return 'ack';
  }

  /** First-hand proof of life: a member answered at `incarnation`. */
  #heard(instance: Instance, incarnation: number, rev: string): void {
    instance.lastSeen = this.#clock.now();
    this.#unreachable.delete(instance.id);
    if (incarnation > instance.incarnation) this.#merge({ ...state(instance), incarnation, status: 'alive', rev });
    else if (instance.status === 'UP' && instance.suspect && !this.#suspicions.has(instance.id)) this.table.markUp(instance, instance.lastSeen);
    if (rev !== instance.rev) this.#describe(instance.url);
  }

  async #askToProbe(helper: Instance, target: Instance, timeout: number): Promise<ProbeResult | 'nack' | 'none'> {
    const self = this.#member.require();
    const message: PingRequestMessage = { id: self.id, url: self.url, target: { id: target.id, url: target.url }, timeout, updates: this.#news(helper) };
    try {
      const answer = parsePingRequestAnswer(await this.#client.post(helper.url, '/_discovery/ping-req', message, timeout * 2));
      if (typeof answer === 'string' || this.#closed) return 'none';
      for (const update of answer.updates) this.#merge(update);
      return answer.ack ? 'ack' : 'nack';
    } catch {
      return 'none';
    }
  }

  /** Handles a ping: merge the news, introduce a stranger, answer with this instance's incarnation. */
  onPing(message: PingMessage | undefined): PingAnswer {
    const self = this.#member.require();
    let sender: Instance | undefined;
    if (message) {
      for (const update of message.updates) this.#merge(update);
      sender = this.table.get(message.id);
      // A ping from a stranger (say, after this instance restarted) is answered with an introduction.
      if (!sender && message.id !== self.id && !this.#departed.has(message.id)) {
        this.#heardOf.heard(message.url, message.id, this.#clock.now());
        this.#describe(message.url);
      }
    }
    this.refreshRoutes(false);
    return { id: self.id, name: self.name, rev: self.rev, incarnation: this.#member.incarnation, digest: this.table.digest(), updates: message ? this.#news(sender) : [] };
  }

  /** Handles a ping-req: probe the target for the sender and say whether it answered. */
  async onPingRequest(message: PingRequestMessage): Promise<PingRequestAnswer> {
    for (const update of message.updates) this.#merge(update);
    // Only a member this instance knows, at the URL it knows, is probed: a ping-req cannot make
    // it send requests to an address of the sender's choosing.
    const known = this.table.get(message.target.id);
    const result = known && known.url === message.target.url && !known.self ? await this.#ping(known, known.id, known.url, Math.min(message.timeout, this.#probeTimeout())) : 'fail';
    return { ack: result === 'ack', updates: this.#news(this.table.get(message.id)) };
  }

  /** Handles gossip: merge the news, answer with what this instance has to tell. */
  onGossip(message: GossipMessage): GossipMessage {
    for (const update of message.updates) this.#merge(update);
    return { id: this.id, updates: this.#news(this.table.get(message.id)) };
  }

  /** Handles a leave: the instance is forgotten at once, and that is passed on. */
  onLeave(id: string): void {
    const known = this.table.get(id);
    if (known && !known.self) this.#leave(known);
  }

  /**
   * Called when a `services` call could not connect: the instance leaves this process's rotation
   * at once, and is probed now (directly and through others) instead of at its turn.
   */
  unreachable(instance: Instance): void {
    if (this.#closed || instance.self || instance.status !== 'UP') return;
    // Out of the rotation even while a probe of it is already running (a refutation it sent
    // may have started one): calls must not keep meeting a refused port meanwhile.
    this.table.markSuspect(instance);
    if (this.#urgent.has(instance.id)) return;
    this.#urgent.add(instance.id);
    void this.#probe(instance).finally(() => this.#urgent.delete(instance.id));
  }

  // ---- news: merging, suspicion, dissemination ----------------------------------------------

  /** News for a message to `recipient`: first what it must refute about itself, then the queue. */
  #news(recipient: Instance | undefined): MemberState[] {
    const updates: MemberState[] = [];
    if (recipient && (recipient.status === 'DOWN' || this.#suspicions.has(recipient.id))) {
      const told = state(recipient);
      updates.push(told.status === 'alive' ? { ...told, status: 'suspect', from: this.id } : told);
    }
    for (const update of this.#broadcasts.take(PIGGYBACK - updates.length, this.table.alive, recipient?.id)) updates.push(update);
    return updates;
  }

  /**
   * Applies one piece of news with SWIM's precedence: for the same member, a higher incarnation
   * wins; at the same incarnation suspect beats alive and dead beats both. New news is passed on.
   */
  #merge(update: MemberState): void {
    const self = this.#member.instance;
    if (!self || this.#closed) return;
    if (update.id === self.id) return this.#aboutSelf(update);
    if (this.#departed.has(update.id)) return;
    const known = this.table.get(update.id);
    if (!known) {
      // A member never seen (or forgotten): fetch its descriptor, and pass the news on.
      if ((update.status === 'alive' || update.status === 'suspect') && update.url !== self.url) {
        this.#heardOf.heard(update.url, update.id, this.#clock.now());
        this.#describe(update.url);
        this.#broadcasts.add(update);
      } else this.#heardOf.forget(update.url, update.id);
      return;
    }
    if (known.url !== update.url) return;
    if (update.status === 'left') return this.#leave(known);
    if (update.status === 'alive') {
      if (update.incarnation <= known.incarnation) return;
      if (update.rev !== known.rev) this.#describe(known.url);
      if (this.#unreachable.has(known.id)) return this.#reprobe(known);
      known.incarnation = update.incarnation;
      this.#alive(known);
      return;
    }
    if (known.status === 'DOWN' || update.incarnation < known.incarnation) return;
    if (update.status === 'suspect') this.#suspect(known, update.incarnation, update.from ?? update.id);
    else this.#dead(known, update.incarnation, 'reported dead by the cluster');
  }

  /** A member's own newer descriptor: accepted, unless this instance cannot reach it. */
  #refuted(instance: Instance): void {
    if (this.#unreachable.has(instance.id)) this.#reprobe(instance);
    else this.#alive(instance);
  }

  /** A refutation from a member this instance could not reach: believed once a probe from here succeeds. */
  #reprobe(instance: Instance): void {
    if (this.#closed || this.#urgent.has(instance.id)) return;
    this.#urgent.add(instance.id);
    const done = (): void => void this.#urgent.delete(instance.id);
    if (instance.status === 'DOWN') void this.#ping(instance, instance.id, instance.url, this.#probeTimeout()).finally(done);
    else void this.#probe(instance).finally(done);
  }

  /** A member proved alive at a newer incarnation: suspicion ends, a DOWN member comes back. */
  #alive(instance: Instance): void {
    const refuted = instance.status === 'DOWN' || instance.suspect;
    this.#suspicions.get(instance.id)?.stop();
    this.#suspicions.delete(instance.id);
    this.table.markUp(instance, this.#clock.now());
    const update = state(instance);
    if (refuted) this.#urgentNews(update);
    else this.#broadcasts.add(update);
  }

  /** News about this instance: a suspicion or death of its current incarnation is refuted. */
  #aboutSelf(update: MemberState): void {
    if (update.status === 'alive' || !this.#member.refute(update.incarnation)) return;
    const self = this.#member.require();
    // Being suspected hints that this instance is the slow one (Lifeguard).
    this.#health.worse();
    const refutation = state(self);
    this.#urgentNews(refutation);
    this.#settings.logger.debug?.(`express-micro: refuted being ${update.status} (incarnation ${this.#member.incarnation})`);
  }

  /** Suspects a member, or counts another member's independent suspicion of it. */
  #suspect(instance: Instance, incarnation: number, from: string): void {
    if (instance.self || instance.status === 'DOWN') return;
    const existing = this.#suspicions.get(instance.id);
    if (existing && existing.incarnation === incarnation) {
      if (existing.confirm(from)) this.#broadcasts.add({ ...state(instance), status: 'suspect', from }, true);
      return;
    }
    existing?.stop();
    instance.incarnation = Math.max(instance.incarnation, incarnation);
    const members = this.table.alive;
    const wanted = this.#settings.suspicionMultiplier - 2;
    const expected = members - 2 < wanted ? 0 : wanted;
    const minimum = minimumSuspicion(this.#settings.suspicionMultiplier, members, this.#settings.pingInterval);
    const suspicion: Suspicion = new Suspicion(incarnation, from, expected, minimum, this.#clock, () => this.#expire(instance, suspicion, minimum));
    this.#suspicions.set(instance.id, suspicion);
    this.table.markSuspect(instance);
    if (from === this.id) this.#settings.logger.info(`express-micro: ${instance.name} at ${instance.url} is suspected (no answer to probes from here or from ${this.#settings.indirectChecks} other members)`);
    const update: MemberState = { ...state(instance), status: 'suspect', incarnation, from };
    this.#urgentNews(update);
  }

  #expire(instance: Instance, suspicion: Suspicion, minimum: number): void {
    if (this.#suspicions.get(instance.id) !== suspicion || this.table.get(instance.id) !== instance) return;
    this.#suspicions.delete(instance.id);
    this.#dead(instance, suspicion.incarnation, `suspected for at least ${minimum} ms and not reachable since`);
  }

  /** Confirms a member's death: DOWN here (`down` fires once), and passed on. */
  #dead(instance: Instance, incarnation: number, reason: string): void {
    if (instance.status === 'DOWN') return;
    this.#suspicions.get(instance.id)?.stop();
    this.#suspicions.delete(instance.id);
    instance.incarnation = Math.max(instance.incarnation, incarnation);
    this.#settings.logger.warn(`express-micro: ${instance.name} at ${instance.url} is DOWN (${reason})`);
    this.table.markDown(instance, this.#clock.now());
    const update = state(instance);
    this.#urgentNews(update);
  }

  #leave(instance: Instance): void {
    this.#departed.set(instance.id, this.#clock.now());
    this.#unreachable.delete(instance.id);
    this.#suspicions.get(instance.id)?.stop();
    this.#suspicions.delete(instance.id);
    const update: MemberState = { ...state(instance), status: 'left' };
    this.table.remove(instance.id);
    this.#urgentNews(update);
  }

  /**
   * News that changes where calls go (a suspicion, a death, a refutation, a leave) is pushed to
   * a few random members at once, each of which does the same once: it reaches the cluster in a
   * few network round trips instead of a few probe rounds.
   */
  #urgentNews(update: MemberState): void {
    this.#broadcasts.add(update, true);
    this.#hot.push(update);
    this.#hotTimer ??= this.#clock.after(0, () => this.#flushUrgent());
  }

  #flushUrgent(): void {
    this.#hotTimer = undefined;
    const updates = this.#hot.splice(0, PIGGYBACK * 4);
    if (this.#closed || updates.length === 0) return;
    if (this.#hot.length > 0) this.#hotTimer = this.#clock.after(0, () => this.#flushUrgent());
    const subjects = new Set(updates.map((update) => update.id));
    const message: GossipMessage = { id: this.id, updates };
    for (const member of this.#pick(FANOUT, undefined, subjects)) {
      void this.#client
        .post(member.url, '/_discovery/gossip', message, this.#probeTimeout())
        .then((answer) => {
          const parsed = parseGossip(answer);
          if (typeof parsed !== 'string') for (const update of parsed.updates) this.#merge(update);
        })
        .catch(() => {});
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  /**
   * Every member's state for a push-pull. A member only a failed call took out of the rotation
   * here (no suspicion held) is told alive: that is this process's view, not news. A suspicion
   * goes without a `from`: the receiver files it under the suspect's own id, so push-pulls add at
   * most one confirmation however many of them carry it (naming this instance instead raised the
   * simulation's false DOWN at 20% loss from 0.01 to 0.55 per member-minute).
   */
  #members(): MemberState[] {
    return this.table.members().map((member) => (member.status === 'suspect' && !this.#suspicions.has(member.id) ? { ...member, status: 'alive' } : member));
  }

  /** Every UP member but this one (the table's order). */
  #others(): Instance[] {
    const others: Instance[] = [];
    for (const instance of this.table.instances()) if (!instance.self && instance.status === 'UP') others.push(instance);
    return others;
  }

  /** Up to `count` random UP members that are not suspected, leaving out `except` and `skip`. */
  #pick(count: number, except: string | undefined, skip?: Set<string>): Instance[] {
    const candidates = this.#others().filter((instance) => !instance.suspect && instance.id !== except && !skip?.has(instance.id));
    return shuffle(candidates, this.#random, count);
  }

  /** Stops the rounds and tells the members this instance is leaving (all of them, up to 32). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.stop();
    this.#hotTimer?.stop();
    for (const suspicion of this.#suspicions.values()) suspicion.stop();
    this.#resolveReady();
    const self = this.#member.instance;
    if (!self || this.#settings.shared === true) return;
    // A peer with an exchange still in flight adds this instance when it arrives, before this
    // instance reads its answer: let the exchange settle, then tell that peer too.
    const targets = new Set([...this.#exchanges.keys()].map((key) => key.slice(key.indexOf(' ') + 1)));
    await Promise.allSettled([...this.#exchanges.values()]);
    const others = this.#others();
    const told = others.length <= TELL_ALL_ON_LEAVE ? others : shuffle(others, this.#random, 8);
    for (const instance of told) targets.add(instance.url);
    const timeout = Math.min(1000, this.#exchangeTimeout());
    await Promise.allSettled([...targets].map((url) => this.#client.post(url, '/_discovery/leave', { id: self.id }, timeout)));
  }

  #exchangeTimeout(): number {
    return Math.max(1000, this.#settings.pingTimeout * 2);
  }

}

/**
 * How often each member push-pulls with a random other, in ms: every 10 intervals up to 32 members,
 * one more tenth for each doubling above (memberlist's pushPullScale). On the clock, not counted in
 * rounds: Lifeguard stretches the rounds of a member in trouble up to 9 times, and with them the
 * anti-entropy that repairs what gossip lost.
 */
export function pushPullPeriod(members: number, interval: number): number {
  return PUSH_PULL_ROUNDS * (members > 32 ? Math.ceil(Math.log2(members) - 5) + 1 : 1) * interval;
}

/** A shuffled copy of `items` (Fisher–Yates), or its first `count` after shuffling that far. */
function shuffle<T>(items: T[], random: () => number, count = items.length): T[] {
  const copy = [...items];
  const take = Math.min(count, copy.length);
  for (let index = 0; index < take; index++) {
    const swap = index + Math.floor(random() * (copy.length - index));
    [copy[index], copy[swap]] = [copy[swap] as T, copy[index] as T];
  }
  return copy.length === take ? copy : copy.slice(0, take);
}
