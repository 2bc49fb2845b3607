import { ExpressMicroError } from './express-micro-error.ts';

/**
 * Thrown (as a rejection) by `micro.emit()` and `micro.broadcast()` when an event cannot be sent
 * at all: `reason` `'invalid'` (a payload JSON cannot carry: a BigInt, a cycle), `'too-large'`
 * (its JSON is longer than `events.maxPayloadBytes`) or `'unavailable'` (the durable engine, Redis,
 * did not take it: nothing was stored, so nothing is silently lost). Carries `event`. A receiver
 * that could not be reached is not an error: the result's `failed` lists it.
 */
export class EventError extends ExpressMicroError {
  /** The event's name. */
  readonly event: string;
  /** Why it could not be sent. */
  readonly reason: 'unavailable' | 'too-large' | 'invalid';

  /** Made by `emit` and `broadcast`; `cause` is the serialiser's or the engine's error. */
  constructor(event: string, reason: 'unavailable' | 'too-large' | 'invalid', message: string, cause?: unknown) {
    super(`express-micro: event ${event} ${message}`, { cause });
    // Set here, not as a class field: the CommonJS build rewrites classes with field
    // initializers into anonymous ones, and their name would be lost.
    this.name = 'EventError';
    this.event = event;
    this.reason = reason;
  }
}
