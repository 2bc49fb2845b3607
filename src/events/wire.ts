import { isEventName, isGroupName } from './names.ts';
import type { EventMessage } from './types.ts';

/** Where the cluster transport delivers: a discovery endpoint, so auth, HMAC, the allow-list and TLS apply as they do to gossip. */
export const EVENTS_PATH = '/_discovery/events';

const ID = /^[A-Za-z0-9_-]{8,64}$/;
const SERVICE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const MAX_TRACEPARENT = 512;
const MAX_TRACESTATE = 8192;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A delivery's body: an {@link EventMessage}, or a string saying what is wrong with it. */
export function parseEventMessage(value: unknown): EventMessage | string {
  if (!isRecord(value)) return 'event is not an object';
  const { id, event, emitter, from, time, payload, traceparent, tracestate } = value;
  if (typeof id !== 'string' || !ID.test(id)) return 'id is not an event id';
  if (!isEventName(event)) return 'event is not an event name';
  if (typeof emitter !== 'string' || !SERVICE.test(emitter)) return 'emitter is not a service name';
  if (typeof from !== 'string' || !ID.test(from)) return 'from is not an instance id';
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0) return 'time is not a time';
  if (!('payload' in value)) return 'payload is missing';
  if (traceparent !== undefined && (typeof traceparent !== 'string' || traceparent.length > MAX_TRACEPARENT)) return 'traceparent is not a short string';
  if (tracestate !== undefined && (typeof tracestate !== 'string' || tracestate.length > MAX_TRACESTATE)) return 'tracestate is not a short string';
  const message: EventMessage = { id, event, emitter, from, time, payload };
  if (traceparent !== undefined) message.traceparent = traceparent;
  if (tracestate !== undefined) message.tracestate = tracestate;
  return message;
}

/**
 * The group a delivery's query names (`?group=orders`), or undefined for a broadcast
 * (`?broadcast`); a string starting with `!` says what is wrong.
 */
export function parseDeliveryQuery(query: string): { group: string | undefined } | string {
  const params = new URLSearchParams(query);
  const group = params.get('group');
  if (group !== null) return isGroupName(group) ? { group } : 'group is not a group name';
  if (params.has('broadcast')) return { group: undefined };
  return 'the query names neither a group nor broadcast';
}
