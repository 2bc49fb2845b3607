import type { Instance, MembershipTable } from '../discovery/table.ts';
import { EventError, OptionError } from '../errors/index.ts';
import type { EventMetrics } from '../metrics/index.ts';
import type { Logger } from '../options.ts';
import { after, monotonicNow, randomHex, TransportError, type HttpClient } from '../runtime/index.ts';
import type { DurableEvents, RedisEventSettings } from './durable.ts';
import { isEventName, isGroupName } from './names.ts';
import { HandlerRunner } from './runner.ts';
import { Subscriptions } from './subscriptions.ts';
import type { EmitResult, EventHandler, EventMessage, EventMeta, EventReceipt, SubscribeOptions } from './types.ts';
import { EVENTS_PATH } from './wire.ts';

/** `events` after validation (options.ts), defaults filled in. */
export interface EventSettings {
  /** The most bytes of an event's JSON payload. */
  maxPayloadBytes: number;
  /** Handlers run at once on this instance (cluster deliveries). */
  maxInFlight: number;
  /** Cluster deliveries accepted and waiting for a handler; past it a delivery is refused (503) and the emitter tries another instance. */
  maxQueued: number;
  /** The durable engine's settings, when `type: 'redis'`. */
  durable: RedisEventSettings | undefined;
}

/** What the plugin gives the events. */
export interface EventsContext {
  service: string;
  /** This instance's id (its `from` on what it emits, its consumer name). */
  id: () => string;
  table: MembershipTable;
  http: HttpClient;
  /** Headers that authenticate a request to an instance whose signing audience is `audience`. */
  authorize: (method: string, path: string, body: string, audience: string) => Record<string, string>;
  /** An instance this process could not connect to: out of the rotation, probed now. */
  unreachable: (instance: Instance) => void;
  /** An instance that answered it does not subscribe though its row says so: its row is fetched again. */
  stale: (instance: Instance) => void;
  /** The trace context of the request being served, if any. */
  trace: () => { traceparent: string; tracestate: string | undefined } | undefined;
  /** A delivery's timeout, in ms. */
  timeout: number;
  logger: Logger;
  metrics: EventMetrics;
  settings: EventSettings;
  /** The subscriptions changed: publish them (a new revision of this instance's descriptor). */
  published: () => void;
  /** Loads and connects the durable engine (only when `events.type` is `'redis'`). */
  durable: (() => DurableEvents) | undefined;
}

/** The most event names indexed per table revision. */
const MAX_INDEXED = 1024;

/** A delivery the receiver did not take (so it ran nothing): the emitter tries the group's next instance. */
const NOT_TAKEN = new Set([401, 403, 404, 421, 503]);

/** Subscribers of one event: by group, the UP instances; all of them for a broadcast. */
interface Subscribers {
  readonly groups: Map<string, Instance[]>;
  readonly instances: Instance[];
}

/**
 * Events between services (docs/events.md; docs/ARCHITECTURE.md, "Events"): `subscribe` here, `emit` to one instance per
 * subscribing group, `broadcast` to every subscribing instance. Over the cluster itself by
 * default (at-most-once per group); with `events.type: 'redis'`, `emit` goes through Redis
 * Streams (at-least-once) and `broadcast` stays on the cluster.
 */
export class Events {
  readonly #context: EventsContext;
  readonly #subscriptions = new Subscriptions();
  readonly #runner: HandlerRunner;
  readonly #cursors = new Map<string, number>();
  #index = new Map<string, Subscribers>();
  #indexedAt = -1;
  #durable: DurableEvents | undefined;
  #closing = false;

  constructor(context: EventsContext) {
    this.#context = context;
    this.#runner = new HandlerRunner(context.settings.maxInFlight, context.settings.maxQueued);
  }

  /** What this instance publishes with its routes. */
  published(): { event: string; group: string }[] {
    return this.#subscriptions.published();
  }

  /** `micro.subscribe()`: returns what unsubscribes. */
  subscribe(event: string, handler: EventHandler, options?: SubscribeOptions): () => void {
    if (!isEventName(event)) throw new OptionError('event', `must be an event name (a letter or digit, then up to 99 of letters, digits and . _ : -), got ${JSON.stringify(String(event).slice(0, 120))}`);
    if (typeof handler !== 'function') throw new OptionError('handler', 'must be a function (payload, meta) => void | Promise<void>');
    const group = options?.group ?? this.#context.service;
    if (!isGroupName(group)) throw new OptionError('group', `must be a group name (like a service name), got ${JSON.stringify(String(group).slice(0, 120))}`);
    const remove = this.#subscriptions.add(event, group, handler);
    if (this.#context.settings.durable) this.#engine().consume(event, group, (message, attempt) => this.#runAll(this.#subscriptions.handlers(event, group), message, group, attempt, true));
    this.#context.published();
    return () => {
      remove();
      this.#context.published();
    };
  }

  /** `micro.emit()`: once per subscribing group. */
  async emit(event: string, payload: unknown): Promise<EmitResult> {
    const { message, body, text } = this.#message(event, payload);
    this.#context.metrics.count('emitted', event);
    const subscribers = this.#subscribers(event);
    if (this.#context.settings.durable) {
      let stored: string;
      try {
        stored = await withinTimeout(this.#engine().publish(message), this.#context.timeout, () => new EventError(event, 'unavailable', `got no answer from Redis within ${this.#context.timeout} ms (it may have been stored: at least once, a retry can duplicate it)`));
      } catch (error) {
        throw error instanceof EventError ? error : new EventError(event, 'unavailable', `could not be stored: ${(error as Error).message}`, error);
      }
      const accepted: EventReceipt[] = [...subscribers.groups].map(([group, instances]) => ({ group, service: instances[0]?.name ?? group, instance: undefined }));
      return { id: message.id, event, accepted, failed: [], stored };
    }
    const receipts = await Promise.all([...subscribers.groups].map(([group, instances]) => this.#toGroup(message, body, text, group, instances)));
    return result(message, receipts);
  }

  /** `micro.broadcast()`: every UP subscribing instance, once. */
  async broadcast(event: string, payload: unknown): Promise<EmitResult> {
    const { message, body, text } = this.#message(event, payload);
    this.#context.metrics.count('emitted', event);
    const instances = this.#subscribers(event).instances;
    const receipts = await Promise.all(
      instances.map(async (instance): Promise<EventReceipt> => {
        const outcome = await this.#deliver(instance, message, body, text, undefined);
        return outcome === true ? receipt(instance, undefined) : receipt(instance, undefined, outcome.reason);
      }),
    );
    return result(message, receipts);
  }

  /**
   * A cluster delivery to this instance (`POST /_discovery/events`): 202 once its handlers are
   * queued, 404 when nothing here subscribes (the emitter's table is stale), 503 while closing or full.
   */
  receive(message: EventMessage, group: string | undefined): { status: number; payload: unknown } {
    return this.#accept(message, group);
  }

  /** Stops taking deliveries, lets the handlers running finish, closes the durable engine. */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#runner.idle();
    await this.#durable?.close();
  }

  /** Reads the durable groups' backlog into the metrics (a no-op on the cluster transport). */
  async readBacklog(): Promise<void> {
    if (this.#durable) this.#context.metrics.backlog = await this.#durable.backlog();
  }

  #engine(): DurableEvents {
    return (this.#durable ??= (this.#context.durable as () => DurableEvents)());
  }

  /**
   * The message and its wire body, the payload's JSON written once: the body goes around it, a
   * local delivery parses it (handlers get what any receiver would), the durable engine stores it.
   */
  #message(event: string, payload: unknown): { message: EventMessage; body: string; text: string } {
    if (!isEventName(event)) throw new OptionError('event', `must be an event name (a letter or digit, then up to 99 of letters, digits and . _ : -), got ${JSON.stringify(String(event).slice(0, 120))}`);
    let text: string | undefined;
    try {
      text = JSON.stringify(payload === undefined ? null : payload);
    } catch (error) {
      throw new EventError(event, 'invalid', `has a payload JSON cannot carry (${(error as Error).message})`, error);
    }
    if (text === undefined) throw new EventError(event, 'invalid', 'has a payload JSON cannot carry (a function or a symbol)');
    const limit = this.#context.settings.maxPayloadBytes;
    // Each UTF-16 unit is at most 3 bytes of UTF-8: only a payload near the limit is measured.
    if (text.length * 3 > limit && new TextEncoder().encode(text).length > limit) {
      throw new EventError(event, 'too-large', `has a payload of more than events.maxPayloadBytes (${limit} bytes of JSON)`);
    }
    const message: EventMessage = { id: randomHex(16), event, emitter: this.#context.service, from: this.#context.id(), time: Date.now(), payload: payload === undefined ? null : payload };
    const trace = this.#context.trace();
    if (trace) {
      message.traceparent = trace.traceparent;
      if (trace.tracestate !== undefined) message.tracestate = trace.tracestate;
    }
    // The payload's JSON is written once: the rest of the message goes around it.
    const head = JSON.stringify({ ...message, payload: undefined });
    const body = `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"payload":${text}}`;
    return { message, body, text };
  }

  /** The subscribers of `event` in the table as it stands (indexed once per table revision). */
  #subscribers(event: string): Subscribers {
    const table = this.#context.table;
    if (this.#indexedAt !== table.revision) {
      this.#index = new Map();
      this.#indexedAt = table.revision;
    }
    let subscribers = this.#index.get(event);
    if (subscribers) return subscribers;
    // Names nobody subscribes to are the application's input: the index stays bounded.
    if (this.#index.size >= MAX_INDEXED) this.#index.clear();
    subscribers = { groups: new Map(), instances: [] };
    for (const instance of table.instances()) {
      if (instance.status !== 'UP' || instance.events.length === 0) continue;
      let subscribes = false;
      for (const subscription of instance.events) {
        if (subscription.event !== event) continue;
        subscribes = true;
        let members = subscribers.groups.get(subscription.group);
        if (!members) subscribers.groups.set(subscription.group, (members = []));
        members.push(instance);
      }
      if (subscribes) subscribers.instances.push(instance);
    }
    this.#index.set(event, subscribers);
    return subscribers;
  }

  /** One group: its instances in turn (trusted ones first) until one takes it or it may have been handled. */
  async #toGroup(message: EventMessage, body: string, text: string, group: string, instances: Instance[]): Promise<EventReceipt> {
    const trusted = instances.filter((instance) => !instance.suspect && instance.ejectedUntil === 0);
    const order = trusted.length === instances.length ? instances : [...trusted, ...instances.filter((instance) => !trusted.includes(instance))];
    const key = `${message.event}\n${group}`;
    const start = this.#cursors.get(key) ?? Math.floor(Math.random() * order.length);
    this.#cursors.set(key, start + 1);
    let last: string | undefined;
    for (let tried = 0; tried < order.length; tried++) {
      const instance = order[(start + tried) % order.length] as Instance;
      const outcome = await this.#deliver(instance, message, body, text, group);
      if (outcome === true) return receipt(instance, group);
      last = `${instance.url}: ${outcome.reason}`;
      if (!outcome.next) return receipt(instance, group, outcome.reason);
    }
    return { group, service: instances[0]?.name ?? group, instance: undefined, reason: `no instance of the group took it (${order.length} tried; last ${last ?? 'none'})` };
  }

  /** True when `instance` took it; otherwise why not, and whether the next instance may be tried (this one ran nothing). */
  async #deliver(instance: Instance, message: EventMessage, body: string, text: string, group: string | undefined): Promise<true | { reason: string; next: boolean }> {
    if (instance.self) {
      // Handlers here get the payload as any receiver would: parsed from its JSON, not the emitter's own object.
      const local = { ...message, payload: JSON.parse(text) as unknown };
      const answer = this.#accept(local, group);
      return answer.status === 202 ? true : { reason: `answered ${answer.status}`, next: true };
    }
    const path = group === undefined ? `${EVENTS_PATH}?broadcast` : `${EVENTS_PATH}?group=${encodeURIComponent(group)}`;
    const headers = this.#context.authorize('POST', path, body, instance.audience);
    headers['content-type'] = 'application/json';
    try {
      const response = await this.#context.http.request({ origin: instance.url, path, method: 'POST', headers, body, timeout: this.#context.timeout });
      if (response.status === 202) return true;
      if (response.status === 404) this.#context.stale(instance);
      const reason = `answered ${response.status}${response.body ? ` ${response.body.slice(0, 200)}` : ''}`;
      return { reason, next: NOT_TAKEN.has(response.status) };
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      // Not connected: nothing reached it, the next may take it. Anything later may have been handled: at most once.
      if (error.kind === 'connect') {
        this.#context.unreachable(instance);
        return { reason: `could not connect (${error.message})`, next: true };
      }
      return { reason: `${error.kind}: ${error.message} (it may have been handled; not sent again)`, next: false };
    }
  }

  #accept(message: EventMessage, group: string | undefined): { status: number; payload: unknown } {
    if (this.#closing) return { status: 503, payload: { error: 'closing' } };
    const handlers = this.#subscriptions.handlers(message.event, group);
    if (handlers.length === 0) return { status: 404, payload: { error: `not subscribed to ${message.event}${group === undefined ? '' : ` in group ${group}`}` } };
    const accepted = this.#runner.offer(() => this.#runAll(handlers, message, group, 1, false).catch(() => {}));
    return accepted ? { status: 202, payload: { accepted: true } } : { status: 503, payload: { error: 'busy: too many events waiting for a handler' } };
  }

  /** Runs every handler of one delivery; `rethrow` (durable) makes a failure reject, for a retry. */
  async #runAll(handlers: EventHandler[], message: EventMessage, group: string | undefined, attempt: number, rethrow: boolean): Promise<void> {
    const metrics = this.#context.metrics;
    const meta: EventMeta = {
      event: message.event,
      id: message.id,
      emitter: message.emitter,
      time: message.time,
      attempt,
      group,
      traceparent: message.traceparent,
      tracestate: message.tracestate,
    };
    let failure: unknown;
    for (const handler of handlers) {
      const started = monotonicNow();
      try {
        await handler(message.payload, meta);
        metrics.count('delivered', message.event, group);
      } catch (error) {
        failure = error;
        metrics.count('failed', message.event, group);
        this.#context.logger.warn(`express-micro: a handler of event ${message.event}${group === undefined ? '' : ` (group ${group})`} failed on attempt ${attempt}: ${(error as Error)?.message ?? String(error)}`);
      } finally {
        metrics.handled(message.event, group ?? '', (monotonicNow() - started) / 1000);
      }
    }
    if (failure !== undefined && rethrow) throw failure;
  }
}

/** `promise`, or a rejection with `timedOut()` after `ms` (a Redis that accepts connections and never answers). */
function withinTimeout<T>(promise: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = after(ms, () => reject(timedOut()));
    promise.then(
      (value) => {
        timer.stop();
        resolve(value);
      },
      (error: unknown) => {
        timer.stop();
        reject(error);
      },
    );
  });
}

function receipt(instance: Instance, group: string | undefined, reason?: string): EventReceipt {
  return reason === undefined ? { group, service: instance.name, instance: instance.url } : { group, service: instance.name, instance: instance.url, reason };
}

function result(message: EventMessage, receipts: EventReceipt[]): EmitResult {
  return { id: message.id, event: message.event, accepted: receipts.filter((each) => each.reason === undefined), failed: receipts.filter((each) => each.reason !== undefined) };
}
