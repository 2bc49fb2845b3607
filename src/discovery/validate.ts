import type { RouteDescriptor } from '../routes/index.ts';
import { PROTOCOL_VERSION, type Descriptor, type Member, type PingAnswer, type PingMessage, type RegisterMessage } from './types.ts';

/**
 * Validation of everything that comes off the wire. Each parser returns the value, rebuilt from
 * the fields it checked (so no stray keys, `__proto__` included, survive), or a string saying
 * what is wrong. The limits are the protocol's: docs/ARCHITECTURE.md, "Protocol reference".
 */

/** Limits on what a peer may send. */
export const LIMITS = { routes: 1000, members: 1000, names: 8, path: 512, url: 256, name: 100 } as const;

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const ID = /^[A-Za-z0-9_-]{8,64}$/;
const REV = /^[A-Za-z0-9_-]{1,64}$/;
const CALL_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,99}$/;
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

function parseRoute(value: unknown, index: number): Result<RouteDescriptor> {
  if (!isRecord(value)) return `routes[${index}] is not an object`;
  const { method, path, names } = value;
  if (typeof method !== 'string' || !METHODS.has(method)) return `routes[${index}].method is not an HTTP method`;
  if (typeof path !== 'string' || path[0] !== '/' || path.length > LIMITS.path) return `routes[${index}].path is not a path`;
  if (!Array.isArray(names) || names.length > LIMITS.names) return `routes[${index}].names is not a short array`;
  for (const name of names) if (typeof name !== 'string' || !CALL_NAME.test(name)) return `routes[${index}].names holds a bad name`;
  return { method, path, names: [...(names as string[])] };
}

/** Checks an instance's self-description. */
export function parseDescriptor(value: unknown): Result<Descriptor> {
  if (!isRecord(value)) return 'descriptor is not an object';
  const { protocol, name, id, url, routes, rev } = value;
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
  const parsed = parseList('routes', routes, LIMITS.routes, parseRoute);
  if (typeof parsed === 'string') return parsed;
  return { protocol, name, id, url: origin, routes: parsed, rev };
}

function parseMember(value: unknown, index: number): Result<Member> {
  if (!isRecord(value)) return `members[${index}] is not an object`;
  const { name, id, url } = value;
  const origin = parseOrigin(url);
  if (typeof name !== 'string' || !SERVICE_NAME.test(name) || typeof id !== 'string' || !ID.test(id) || !origin) {
    return `members[${index}] is not a member`;
  }
  return { name, id, url: origin };
}

/** Checks a register message (the request and its answer have the same shape). */
export function parseRegister(value: unknown): Result<RegisterMessage> {
  if (!isRecord(value)) return 'body is not an object';
  const self = parseDescriptor(value.self);
  if (typeof self === 'string') return `self: ${self}`;
  const members = parseList('members', value.members, LIMITS.members, parseMember);
  if (typeof members === 'string') return members;
  return { self, members };
}

/** Checks a ping; an empty body (a bare `GET /_discovery/ping`) is allowed and yields undefined. */
export function parsePing(value: unknown): Result<PingMessage | undefined> {
  if (value === undefined) return undefined;
  if (!isRecord(value)) return 'body is not an object';
  const { id, url, digest } = value;
  const origin = parseOrigin(url);
  if (typeof id !== 'string' || !ID.test(id) || !origin || typeof digest !== 'string' || !REV.test(digest)) return 'body is not a ping';
  return { id, url: origin, digest };
}

/** Checks a ping's answer. */
export function parsePingAnswer(value: unknown): Result<PingAnswer> {
  if (!isRecord(value)) return 'answer is not an object';
  const { id, name, rev, digest } = value;
  if (typeof id !== 'string' || !ID.test(id) || typeof name !== 'string' || !SERVICE_NAME.test(name)) return 'answer is not a ping answer';
  if (typeof rev !== 'string' || !REV.test(rev) || typeof digest !== 'string' || !REV.test(digest)) return 'answer is not a ping answer';
  return { id, name, rev, digest };
}

/** Checks a leave message: `{ id }`. */
export function parseLeave(value: unknown): Result<{ id: string }> {
  if (!isRecord(value) || typeof value.id !== 'string' || !ID.test(value.id)) return 'body is not a leave message';
  return { id: value.id };
}
