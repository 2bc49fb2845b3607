/**
 * The types of events between services (docs/events.md): what a handler receives, what `emit`
 * and `broadcast` resolve with, and the seam a durable engine (Redis Streams) plugs into.
 */

/** What a handler learns about the event besides its payload. */
export interface EventMeta {
  /** The event's name, as emitted (`order.created`). */
  readonly event: string;
  /** The event's id, unique per emit: the same on every group's copy and on every redelivery. */
  readonly id: string;
  /** The service that emitted it. */
  readonly emitter: string;
  /** When it was emitted, in ms since the epoch (the emitter's clock). */
  readonly time: number;
  /** 1 on the first delivery; more when a durable delivery is retried or claimed after a crash. */
  readonly attempt: number;
  /** The group this delivery is for (`emit`), or undefined for a `broadcast`. */
  readonly group: string | undefined;
  /** The W3C trace context of the emitter's request, when it had one. */
  readonly traceparent: string | undefined;
  /** The W3C `tracestate` that came with `traceparent`. */
  readonly tracestate: string | undefined;
}

/** A subscriber: may be async; a durable delivery is acknowledged when it resolves. */
export type EventHandler<Payload = unknown> = (payload: Payload, meta: EventMeta) => void | Promise<void>;

/** Options of `micro.subscribe()`. */
export interface SubscribeOptions {
  /**
   * The group this subscription belongs to: an `emit` reaches each group once, on one of its
   * instances. Default: this service's name (every instance of the service shares the work).
   */
  group?: string;
}

/** One group (`emit`) or instance (`broadcast`) an event was, or could not be, handed to. */
export interface EventReceipt {
  /** The group (`emit`); undefined for a `broadcast`. */
  readonly group: string | undefined;
  /** The service of the instance that took it, or of the group's instances. */
  readonly service: string;
  /** The URL of the instance that took it (or the last one tried); undefined for a durable emit. */
  readonly instance: string | undefined;
  /** Why it could not be handed over (failed receipts only). */
  readonly reason?: string;
}

/** What `emit` and `broadcast` resolve with, once every receiver accepted it or was given up on. */
export interface EmitResult {
  /** The event's id (`meta.id` in every handler). */
  readonly id: string;
  /** The event's name. */
  readonly event: string;
  /** Who accepted it: each group once (`emit`), each instance (`broadcast`). Empty when nobody subscribes. */
  readonly accepted: readonly EventReceipt[];
  /** Who could not be given it, and why (cluster transport only; a durable emit fails instead). */
  readonly failed: readonly EventReceipt[];
  /** The Redis Streams entry id, when the event was stored durably. */
  readonly stored?: string;
}

/** One event as it travels: the wire form of the cluster transport and the fields of a stream entry. */
export interface EventMessage {
  /** Unique per emit (`meta.id`). */
  id: string;
  /** The event's name. */
  event: string;
  /** The emitting service. */
  emitter: string;
  /** The emitting instance's id. */
  from: string;
  /** When it was emitted, in ms since the epoch. */
  time: number;
  /** The payload, as JSON carries it. */
  payload: unknown;
  /** The W3C trace context of the emitter's request, if any. */
  traceparent?: string;
  /** The W3C `tracestate` that came with `traceparent`. */
  tracestate?: string;
}

/** A subscription as an instance publishes it with its routes. */
export interface PublishedSubscription {
  /** The event's name. */
  event: string;
  /** The group the subscription belongs to. */
  group: string;
}

/**
 * The events of the cluster and their payload types, for typed `subscribe`, `emit` and
 * `broadcast`. Empty by default (any name, `unknown` payloads); `express-micro types` declares the
 * names the cluster subscribes to, and a team may declare payloads itself:
 *
 * ```ts
 * declare module 'express-micro' {
 *   interface EventRegistry { 'order.created': { id: number } }
 * }
 * ```
 */
export interface EventRegistry {}

/** The payload type of `event`: declared in {@link EventRegistry}, else `unknown`. */
export type EventPayload<Event extends string> = Event extends keyof EventRegistry ? EventRegistry[Event] : unknown;
