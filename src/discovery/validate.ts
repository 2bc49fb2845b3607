import { isEventName, isGroupName, MAX_SUBSCRIPTIONS } from '../events/names.ts';
import type { PublishedSubscription } from '../events/types.ts';
import type { RouteDescriptor } from '../routes/index.ts';
import { isZone, parseMetadata } from './metadata.ts';
import {
  PROTOCOL_VERSION,
  type DescribeMessage,
  type Descriptor,
  type GossipMessage,
  type MemberState,
  type MemberStatus,
  type PingAnswer,
  type PingMessage,
  type PingRequestAnswer,
  type PingRequestMessage,
  type RegisterMessage,
} from './types.ts';

/**
 * Validation of everything that comes off the wire. Each parser returns the value, rebuilt from
 * the fields it checked (so no stray keys, `__proto__` included, survive), or a string saying
 * what is wrong. The limits are the protocol's: docs/ARCHITECTURE.md, "Protocol reference".
 */

/** Limits on what a peer may send. */
export const LIMITS = { routes: 1000, members: 4096, updates: 64, names: 8, path: 512, url: 256, name: 100, timeout: 60_000 } as const;

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const ID = /^[A-Za-z0-9_-]{8,64}$/;
const REV = /^[A-Za-z0-9_-]{1,64}$/;
const CALL_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,99}$/;
const STATUSES = new Set<MemberStatus>(['alive', 'suspect', 'dead', 'left']);
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', '*']);

type Result<T> = T | string;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An http(s) origin (`http://host:port`), exactly as `URL` prints it, or undefined. */
export function parseOrigin(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > LIMITS.url) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) return undefined;
  return url.origin === value ? value : undefined;
}

/** An array of at most `limit` items, each checked by `parseItem`; the first bad one is reported. */
function parseList<T>(field: string, value: unknown, limit: number, parseItem: (item: unknown, index: number) => Result<T>): Result<T[]> {
  if (!Array.isArray(value) || value.length > limit) return `${field} is not an array of at most ${limit}`;
  const parsed: T[] = [];
  for (let index = 0; index < value.length; index++) {
    const item = parseItem(value[index], index);
    if (typeof item === 'string') return item;
    parsed.push(item);
  }
  return parsed;
}

function parseSubscription(value: unknown, index: number): Result<PublishedSubscription> {
  if (!isRecord(value)) return `events[${index}] is not an object`;
  if (!isEventName(value.event)) return `events[${index}].event is not an event name`;
  if (!isGroupName(value.group)) return `events[${index}].group is not a group name`;
  return { event: value.event, group: value.group };
}

function parseRoute(value: unknown, index: number): Result<RouteDescriptor> {
  if (!isRecord(value)) return `routes[${index}] is not an object`;
  const { method, path, names, handler } = value;
  if (typeof method !== 'string' || !METHODS.has(method)) return `routes[${index}].method is not an HTTP method`;
  if (typeof path !== 'string' || path[0] !== '/' || path.length > LIMITS.path) return `routes[${index}].path is not a path`;
  if (!Array.isArray(names) || names.length > LIMITS.names) return `routes[${index}].names is not a short array`;
  for (const name of names) if (typeof name !== 'string' || !CALL_NAME.test(name)) return `routes[${index}].names holds a bad name`;
  const route: RouteDescriptor = { method, path, names: [...(names as string[])] };
  // Optional: peers before it sent none (their routes then count as distinct handlers).
  if (handler !== undefined) {
    if (typeof handler !== 'number' || !Number.isSafeInteger(handler) || handler < 0 || handler >= LIMITS.routes) return `routes[${index}].handler is not a handler number`;
    route.handler = handler;
  }
  return route;
}

/** Checks an instance's self-description. */
export function parseDescriptor(value: unknown): Result<Descriptor> {
  if (!isRecord(value)) return 'descriptor is not an object';
  const { protocol, name, id, url, routes, rev, incarnation, metadata, zone, events } = value;
  // Never JSON.stringify a value from the wire here: a deeply nested one overflows the stack.
  if (protocol !== PROTOCOL_VERSION) {
    const given = typeof protocol === 'number' ? String(protocol) : typeof protocol === 'string' ? JSON.stringify(protocol.slice(0, 20)) : protocol === null ? 'null' : Array.isArray(protocol) ? 'an array' : `a ${typeof protocol}`;
    return `unsupported protocol ${given}; this instance speaks ${PROTOCOL_VERSION}`;
  }
  if (typeof name !== 'string' || !SERVICE_NAME.test(name)) return 'name is not a service name';
  if (typeof id !== 'string' || !ID.test(id)) return 'id is not an instance id';
  const origin = parseOrigin(url);
  if (!origin) return 'url is not an http(s) origin';
  if (typeof rev !== 'string' || !REV.test(rev)) return 'rev is not a revision';
  if (!isIncarnation(incarnation)) return 'incarnation is not a whole number';
  if (zone !== undefined && !isZone(zone)) return 'zone is not a zone name';
  const labels = metadata === undefined ? undefined : parseMetadata(metadata);
  if (labels !== undefined && !('metadata' in labels)) return `${labels.field} ${labels.message}`;
  const parsed = parseList('routes', routes, LIMITS.routes, parseRoute);
  if (typeof parsed === 'string') return parsed;
  const descriptor: Descriptor = { protocol, name, id, url: origin, routes: parsed, rev, incarnation };
  if (labels !== undefined && Object.keys(labels.metadata).length > 0) descriptor.metadata = labels.metadata;
  if (zone !== undefined) descriptor.zone = zone;
  if (events !== undefined) {
    const subscriptions = parseList('events', events, MAX_SUBSCRIPTIONS, parseSubscription);
    if (typeof subscriptions === 'string') return subscriptions;
    if (subscriptions.length > 0) descriptor.events = subscriptions;
  }
  return descriptor;
}

function isIncarnation(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** One member's state, as gossiped (`members[3]`, `updates[0]`). */
function parseMemberState(field: string): (value: unknown, index: number) => Result<MemberState> {
  return (value, index) => {
    if (!isRecord(value)) return `${field}[${index}] is not an object`;
    const { name, id, url, incarnation, status, rev, from } = value;
    const origin = parseOrigin(url);
    if (typeof name !== 'string' || !SERVICE_NAME.test(name) || typeof id !== 'string' || !ID.test(id) || !origin) return `${field}[${index}] is not a member`;
    if (!isIncarnation(incarnation) || typeof status !== 'string' || !STATUSES.has(status as MemberStatus) || typeof rev !== 'string' || !REV.test(rev)) {
      return `${field}[${index}] is not a member state`;
    }
    if (from !== undefined && (typeof from !== 'string' || !ID.test(from))) return `${field}[${index}].from is not an instance id`;
    const parsed: MemberState = { name, id, url: origin, incarnation, status: status as MemberStatus, rev };
    if (from !== undefined) parsed.from = from;
    return parsed;
  };
}

const parseUpdates = (value: unknown): Result<MemberState[]> => parseList('updates', value, LIMITS.updates, parseMemberState('updates'));

/** Checks a register message (join or push-pull; the request and its answer have the same shape). */
export function parseRegister(value: unknown): Result<RegisterMessage> {
  if (!isRecord(value)) return 'body is not an object';
  const self = parseDescriptor(value.self);
  if (typeof self === 'string') return `self: ${self}`;
  const members = parseList('members', value.members, LIMITS.members, parseMemberState('members'));
  if (typeof members === 'string') return members;
  return { self, members };
}

/** Checks a describe message (the request and its answer have the same shape). */
export function parseDescribe(value: unknown): Result<DescribeMessage> {
  if (!isRecord(value)) return 'body is not an object';
  const self = parseDescriptor(value.self);
  return typeof self === 'string' ? `self: ${self}` : { self };
}

/** Checks a ping; an empty body (a bare `GET /_discovery/ping`) is allowed and yields undefined. */
export function parsePing(value: unknown): Result<PingMessage | undefined> {
  if (value === undefined) return undefined;
  if (!isRecord(value)) return 'body is not an object';
  const { id, url, target } = value;
  const origin = parseOrigin(url);
  if (typeof id !== 'string' || !ID.test(id) || !origin) return 'body is not a ping';
  if (target !== undefined && (typeof target !== 'string' || !ID.test(target))) return 'target is not an instance id';
  const updates = parseUpdates(value.updates);
  if (typeof updates === 'string') return updates;
  return target === undefined ? { id, url: origin, updates } : { id, url: origin, target, updates };
}

/** Checks a ping's answer. */
export function parsePingAnswer(value: unknown): Result<PingAnswer> {
  if (!isRecord(value)) return 'answer is not an object';
  const { id, name, rev, digest, incarnation } = value;
  if (typeof id !== 'string' || !ID.test(id) || typeof name !== 'string' || !SERVICE_NAME.test(name)) return 'answer is not a ping answer';
  if (typeof rev !== 'string' || !REV.test(rev) || typeof digest !== 'string' || !REV.test(digest) || !isIncarnation(incarnation)) return 'answer is not a ping answer';
  const updates = parseUpdates(value.updates);
  if (typeof updates === 'string') return updates;
  return { id, name, rev, digest, incarnation, updates };
}

/** Checks a ping-req: who asks, whom to probe, for how long. */
export function parsePingRequest(value: unknown): Result<PingRequestMessage> {
  if (!isRecord(value)) return 'body is not an object';
  const { id, url, target, timeout } = value;
  const origin = parseOrigin(url);
  if (typeof id !== 'string' || !ID.test(id) || !origin) return 'body is not a ping-req';
  if (!isRecord(target) || typeof target.id !== 'string' || !ID.test(target.id)) return 'target is not a member';
  const targetUrl = parseOrigin(target.url);
  if (!targetUrl) return 'target is not a member';
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > LIMITS.timeout) return `timeout is not 1–${LIMITS.timeout} ms`;
  const updates = parseUpdates(value.updates);
  if (typeof updates === 'string') return updates;
  return { id, url: origin, target: { id: target.id, url: targetUrl }, timeout, updates };
}

/** Checks a ping-req's answer. */
export function parsePingRequestAnswer(value: unknown): Result<PingRequestAnswer> {
  if (!isRecord(value) || typeof value.ack !== 'boolean') return 'answer is not a ping-req answer';
  const updates = parseUpdates(value.updates);
  if (typeof updates === 'string') return updates;
  return { ack: value.ack, updates };
}

/** Checks a gossip message (the request and its answer have the same shape). */
export function parseGossip(value: unknown): Result<GossipMessage> {
  if (!isRecord(value) || typeof value.id !== 'string' || !ID.test(value.id)) return 'body is not a gossip message';
  const updates = parseUpdates(value.updates);
  if (typeof updates === 'string') return updates;
  return { id: value.id, updates };
}

/** Checks a leave message: `{ id }`. */
export function parseLeave(value: unknown): Result<{ id: string }> {
  if (!isRecord(value) || typeof value.id !== 'string' || !ID.test(value.id)) return 'body is not a leave message';
  return { id: value.id };
}
