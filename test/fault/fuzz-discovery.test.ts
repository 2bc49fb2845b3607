/**
 * Issue 5, point 1: fuzzed discovery input. At least 10,000 generated requests (bodies AND headers)
 * go to /_discovery/register, /ping, /services, /metrics and /leave of a real service on 127.0.0.1, 16 at a
 * time over keep-alive connections. A model of the validator, written here from the protocol's
 * rules (not imported from src), says what each request must get: a 4xx, or a 200 only when the
 * request is authenticated and valid. After every batch the membership table must equal the
 * model's: unchanged, except for what valid authenticated registers and leaves do.
 */
import express from 'express';
import fc from 'fast-check';
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { SECRET } from '../helpers.ts';
import { startApp, stopApps } from './helpers.ts';

afterAll(stopApps);

const BATCHES = 640;
const CONCURRENCY = 16; // requests per batch, sent at once: 640 × 16 = 10,240 cases
const BODY_LIMIT = 1024 * 1024;
const TARGET = 'fuzz-target';

// ---------------------------------------------------------------------------------------------
// The model of the validator: the protocol's rules, restated.
// ---------------------------------------------------------------------------------------------
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const ID = /^[A-Za-z0-9_-]{8,64}$/;
const REV = /^[A-Za-z0-9_-]{1,64}$/;
const CALL_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,99}$/;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', '*'];
const MAX = { routes: 1000, members: 4096, updates: 64, names: 8, path: 512, url: 256 };
const STATUSES = ['alive', 'suspect', 'dead', 'left'];
const isIncarnation = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const matches = (pattern: RegExp, value: unknown): value is string => typeof value === 'string' && pattern.test(value);

/** An http(s) origin written exactly as the URL standard prints it (no path, query, user). */
function isOrigin(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > MAX.url) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password && url.origin === value;
  } catch {
    return false;
  }
}

interface ModelRoute {
  method: string;
  path: string;
  names: string[];
}

function modelRoute(value: unknown): ModelRoute | undefined {
  if (!isObject(value)) return undefined;
  const { method, path, names } = value;
  if (typeof method !== 'string' || !METHODS.includes(method)) return undefined;
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > MAX.path) return undefined;
  if (!Array.isArray(names) || names.length > MAX.names || !names.every((name) => matches(CALL_NAME, name))) return undefined;
  return { method, path, names: [...names] };
}

const isMember = (value: unknown): boolean =>
  isObject(value) &&
  matches(SERVICE_NAME, value.name) &&
  matches(ID, value.id) &&
  isOrigin(value.url) &&
  isIncarnation(value.incarnation) &&
  typeof value.status === 'string' &&
  STATUSES.includes(value.status) &&
  matches(REV, value.rev) &&
  (value.from === undefined || matches(ID, value.from));

interface ModelRegister {
  id: string;
  name: string;
  url: string;
  routes: ModelRoute[];
  memberUrls: string[];
}

function modelRegister(value: unknown): ModelRegister | undefined {
  if (!isObject(value) || !isObject(value.self)) return undefined;
  const self = value.self;
  if (self.protocol !== 2 || !matches(SERVICE_NAME, self.name) || !matches(ID, self.id) || !isOrigin(self.url) || !matches(REV, self.rev) || !isIncarnation(self.incarnation)) return undefined;
  if (!Array.isArray(self.routes) || self.routes.length > MAX.routes) return undefined;
  const routes = self.routes.map(modelRoute);
  if (routes.some((route) => route === undefined)) return undefined;
  const { members } = value;
  if (!Array.isArray(members) || members.length > MAX.members || !members.every(isMember)) return undefined;
  return { id: self.id, name: self.name, url: self.url, routes: routes as ModelRoute[], memberUrls: members.map((member) => (member as { url: string }).url) };
}

const modelPing = (value: unknown): boolean =>
  value === undefined ||
  (isObject(value) &&
    matches(ID, value.id) &&
    isOrigin(value.url) &&
    (value.target === undefined || matches(ID, value.target)) &&
    Array.isArray(value.updates) &&
    value.updates.length <= MAX.updates &&
    value.updates.every(isMember));

const modelLeave = (value: unknown): string | undefined => (isObject(value) && matches(ID, value.id) ? value.id : undefined);

const VALID_AUTH = [`Bearer ${SECRET}`, `bearer ${SECRET}`, `BEARER ${SECRET}`];
const isJsonType = (type: string | undefined): boolean => type !== undefined && type.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';

type Effect = { kind: 'register'; register: ModelRegister } | { kind: 'leave'; id: string };

interface Expectation {
  status: number;
  effect?: Effect;
  /** URLs the service will connect to because of this request; all must be loopback. */
  contacts: string[];
}

const ALLOWED = new Map([
  ['/register', ['POST']],
  ['/ping', ['POST', 'GET']],
  ['/services', ['GET']],
  ['/metrics', ['GET']],
  ['/leave', ['POST']],
]);

function expectation(request: MaterialRequest): Expectation {
  const path = request.path.split('?', 1)[0]!;
  const allowed = ALLOWED.get(path);
  if (!allowed) return { status: 404, contacts: [] };
  if (!allowed.includes(request.method)) return { status: 405, contacts: [] };
  if (!VALID_AUTH.includes(request.headers.authorization ?? '')) return { status: 401, contacts: [] };
  if (request.method === 'GET') return { status: 200, contacts: [] };
  const bytes = request.body === undefined ? new Uint8Array() : typeof request.body === 'string' ? new TextEncoder().encode(request.body) : request.body;
  if (bytes.byteLength > 0 && !isJsonType(request.headers['content-type'])) return { status: 415, contacts: [] };
  if (bytes.byteLength > BODY_LIMIT) return { status: 413, contacts: [] };
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  let parsed: unknown;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      return { status: 400, contacts: [] };
    }
  }
  if (path === '/ping') {
    if (!modelPing(parsed)) return { status: 400, contacts: [] };
    const ping = parsed as { url: string; updates: { url: string }[] } | undefined;
    return { status: 200, contacts: ping === undefined ? [] : [ping.url, ...ping.updates.map((update) => update.url)] };
  }
  if (path === '/leave') {
    const id = modelLeave(parsed);
    return id === undefined ? { status: 400, contacts: [] } : { status: 200, effect: { kind: 'leave', id }, contacts: [] };
  }
  const register = modelRegister(parsed);
  if (!register) return { status: 400, contacts: [] };
  return { status: 200, effect: { kind: 'register', register }, contacts: [register.url, ...register.memberUrls] };
}

// ---------------------------------------------------------------------------------------------
// Generators. A case is a spec; ids and URLs that must be unique are tokens filled in when the
// batch is sent, so two valid registers never race for the same id or URL inside a batch.
// ---------------------------------------------------------------------------------------------
class Raw {
  constructor(readonly text: string) {}
}
class Fresh {
  constructor(readonly kind: 'id' | 'url') {}
}
class Known {
  constructor(readonly index: number) {}
}
/** An object written key by key, so `__proto__`, `constructor` and repeated keys reach the wire. */
class Obj {
  constructor(readonly pairs: [string, unknown][]) {}
}

// Ports below 1024 that nothing on this machine listens on: a service told to contact a fuzzed
// URL gets a refused connection on the loopback, never traffic to another address.
const LOW_PORTS = Array.from({ length: 1023 }, (_, index) => index + 1).filter((port) => port !== 80 && port !== 443);
const freshId = (n: number): string => `fuzz-${n.toString(36).padStart(8, '0')}`;
const freshUrl = (n: number): string => `http://127.0.0.1:${LOW_PORTS[n % LOW_PORTS.length]}`;

interface WriteContext {
  next(): number;
  known: string[];
}

function write(value: unknown, context: WriteContext): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Fresh) return JSON.stringify(value.kind === 'id' ? freshId(context.next()) : freshUrl(context.next()));
  if (value instanceof Known) return JSON.stringify(context.known.length > 0 ? context.known[value.index % context.known.length] : freshId(context.next()));
  if (value instanceof Obj) {
    return `{${value.pairs
      .filter(([, item]) => item !== undefined)
      .map(([key, item]) => `${JSON.stringify(key)}:${write(item, context)}`)
      .join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map((item) => write(item, context)).join(',')}]`;
  return JSON.stringify(value) ?? 'null';
}

const route = (index: number, method = 'GET') => `{"method":"${method}","path":"/r/${index}/:id","names":["getR${index}"]}`;
const routesRaw = (count: number, lastMethod = 'GET') => new Raw(`[${Array.from({ length: count }, (_, index) => route(index, index === count - 1 ? lastMethod : 'GET')).join(',')}]`);
const ROUTES_1000 = routesRaw(1000);
const ROUTES_1000_BAD_LAST = routesRaw(1000, 'TRACE');
const ROUTES_1001 = routesRaw(1001);
const ROUTES_5000 = routesRaw(5000);
const MEMBERS_OVER = new Raw(`[${Array.from({ length: MAX.members + 1 }, (_, index) => `{"name":"m","id":"${freshId(1e9 + index)}","url":"${freshUrl(index)}","incarnation":0,"status":"alive","rev":"r"}`).join(',')}]`);

const PROTO_VALUES = [
  new Raw('{"__proto__":{"polluted":"yes","self":{"protocol":1}}}'),
  new Raw('{"constructor":{"prototype":{"polluted":"yes"}}}'),
  new Raw('{"__proto__":null}'),
  new Raw('[{"__proto__":{"polluted":"yes"}}]'),
  new Raw('{"prototype":{"polluted":"yes"},"__defineGetter__":1,"hasOwnProperty":2}'),
];

/** Wrong types, huge strings, deep nesting, prototype keys: anything but a valid field. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: 257, max: 300_000 }).map((length) => 'x'.repeat(length)) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 100_000 }).map((depth) => new Raw('['.repeat(depth) + ']'.repeat(depth))) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((depth) => new Raw('{"a":'.repeat(depth) + '1' + '}'.repeat(depth))) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTO_VALUES) },
  { weight: 1, arbitrary: fc.constant(undefined) }, // the key is left out
);

/** A field: usually valid, else hostile but never accidentally valid for that field. */
const field = (valid: fc.Arbitrary<unknown>, bad: fc.Arbitrary<unknown>, isValid: (value: unknown) => boolean) =>
  fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: fc.oneof(bad, hostile).filter((value) => value instanceof Raw || !isValid(value)) });

const VALID_NAMES = ['user-service', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf', 'a', 'Z9', 'x'.repeat(100), TARGET, 'svc.v2_beta-1'];
const BAD_URLS = [
  'file:///etc/passwd', 'javascript:alert(1)', 'http://127.0.0.1:9/x', 'http://127.0.0.1:9/', 'http://u:p@127.0.0.1:9', 'ftp://127.0.0.1:21',
  'not a url', '', 'http://127.0.0.1:99999', 'HTTP://127.0.0.1:9', 'http://127.0.0.1:9?q=1', 'http://127.0.0.1:9#f', 'http://[::1', 'http://127.0.0.1:80',
  'data:text/plain,x', `http://127.0.0.1:9${'/'.repeat(300)}`, 'http:/127.0.0.1:9', '//127.0.0.1:9', 'ws://127.0.0.1:9', 'http://127.0.0.1:0x10',
];

const nameArb = field(fc.constantFrom(...VALID_NAMES), fc.constantFrom('__proto__', '', '-a', '.a', 'x'.repeat(101), 'a b', 'a/b', 'ä', '../etc'), (value) => matches(SERVICE_NAME, value));
const idArb = field(fc.constant(new Fresh('id')), fc.constantFrom('short', 'x'.repeat(65), 'has space 1', 'abcdefgh!', '0123456'), (value) => matches(ID, value));
const urlArb = field(fc.constant(new Fresh('url')), fc.constantFrom(...BAD_URLS), isOrigin);
const revArb = field(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.constantFrom('', 'r'.repeat(65), 'a b', '../'), (value) => matches(REV, value));
const callNameArb = fc.oneof(fc.stringMatching(/^[A-Za-z_$][A-Za-z0-9_$]{0,15}$/), fc.constantFrom('__proto__', 'constructor', 'then', 'toString', '$call'));
const validRoute = fc
  .record({ method: fc.constantFrom(...METHODS), path: fc.stringMatching(/^\/[a-z:/_]{0,30}$/), names: fc.array(callNameArb, { maxLength: 8 }) })
  .map(({ method, path, names }) => new Obj([['method', method], ['path', path], ['names', names], ['extra', 'ignored']]));
const badRoute = fc.oneof(
  fc.record({ method: fc.constantFrom('get', 'TRACE', 'CONNECT', ''), path: fc.constant('/x'), names: fc.constant([]) }),
  fc.record({ method: fc.constant('GET'), path: fc.constantFrom('x', '', 'p'.repeat(600), `/${'p'.repeat(600)}`), names: fc.constant([]) }),
  fc.record({ method: fc.constant('GET'), path: fc.constant('/x'), names: fc.constantFrom(Array(9).fill('a'), ['1bad'], [42], 'name', ['a-b']) }),
  hostile,
);
const routesArb = fc.oneof(
  { weight: 20, arbitrary: fc.array(validRoute, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.constant(ROUTES_1000) },
  { weight: 2, arbitrary: fc.constantFrom(ROUTES_1000_BAD_LAST, ROUTES_1001, ROUTES_5000) },
  { weight: 3, arbitrary: fc.tuple(fc.array(validRoute, { maxLength: 3 }), badRoute).map(([good, bad]) => [...good, bad]) },
  { weight: 2, arbitrary: hostile.filter((value) => value instanceof Raw || !Array.isArray(value)) },
);
const incarnationArb = field(fc.nat(1000), fc.constantFrom(-1, 1.5, '1', 2 ** 60, null), isIncarnation);
const statusArb = field(fc.constantFrom(...STATUSES), fc.constantFrom('zombie', 'ALIVE', '', 1), (value) => typeof value === 'string' && STATUSES.includes(value));
const memberArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(nameArb, idArb, urlArb, incarnationArb, statusArb, revArb)
      .map(([name, id, url, incarnation, status, rev]) => new Obj([['name', name], ['id', id], ['url', url], ['incarnation', incarnation], ['status', status], ['rev', rev]])),
  },
  { weight: 1, arbitrary: hostile },
);
const membersArb = fc.oneof(
  { weight: 12, arbitrary: fc.array(memberArb, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constant(MEMBERS_OVER) },
  { weight: 1, arbitrary: hostile },
);
const protocolArb = field(fc.constant(2), fc.constantFrom(0, 1, '2', 1.5, -1, 99, true), (value) => value === 2);
const extraKeys = fc.array(fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'self', 'members', 'x'), hostile), { maxLength: 2 });

const selfArb = fc
  .tuple(protocolArb, nameArb, idArb, urlArb, routesArb, revArb, incarnationArb, extraKeys)
  .map(([protocol, name, id, url, routes, rev, incarnation, extra]) =>
    new Obj([['protocol', protocol], ['name', name], ['id', id], ['url', url], ['routes', routes], ['rev', rev], ['incarnation', incarnation], ...extra]),
  );
const registerBody = fc.oneof(
  { weight: 12, arbitrary: fc.tuple(fc.oneof({ weight: 8, arbitrary: selfArb }, { weight: 1, arbitrary: hostile }), membersArb, extraKeys).map(([self, members, extra]) => new Obj([['self', self], ['members', members], ...extra])) },
  { weight: 1, arbitrary: hostile },
);
const pingBody = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(idArb, urlArb, fc.oneof(fc.constant(undefined), idArb), fc.oneof({ weight: 8, arbitrary: fc.array(memberArb, { maxLength: 3 }) }, { weight: 1, arbitrary: hostile }), extraKeys)
      .map(([id, url, target, updates, extra]) => new Obj([['id', id], ['url', url], ...(target === undefined ? [] : [['target', target] as [string, unknown]]), ['updates', updates], ...extra])),
  },
  { weight: 1, arbitrary: hostile },
);
const leaveBody = fc.oneof(
  { weight: 4, arbitrary: fc.nat(1000).map((index) => new Obj([['id', new Known(index)]])) },
  { weight: 3, arbitrary: idArb.map((id) => new Obj([['id', id]])) },
  { weight: 1, arbitrary: hostile },
);

type BodySpec = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'text'; text: string } | { kind: 'bytes'; bytes: Uint8Array } | { kind: 'oversize'; length: number };

const INVALID_JSON = ['{', '{"self":', "{'a':1}", 'undefined', 'NaN', '{"a":1,}', '[1,2', '\uFEFF{}', '{"a":01}', 'nul', '{"self":{}}}', '"unterminated', '{"a":"\\x"}', '1e', '--1'];

const bodyFor = (json: fc.Arbitrary<unknown>): fc.Arbitrary<BodySpec> =>
  fc.oneof(
    { weight: 30, arbitrary: json.map((value) => ({ kind: 'json', value }) as BodySpec) },
    { weight: 2, arbitrary: fc.constantFrom(...INVALID_JSON).map((text) => ({ kind: 'text', text }) as BodySpec) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((text) => ({ kind: 'text', text }) as BodySpec) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ kind: 'bytes', bytes }) as BodySpec) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' } as BodySpec) },
    { weight: 1, arbitrary: fc.integer({ min: BODY_LIMIT - 10, max: BODY_LIMIT + 200_000 }).map((length) => ({ kind: 'oversize', length }) as BodySpec) },
  );

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'Application/JSON', 'text/plain', 'application/x-www-form-urlencoded',
  'application/jsonp', 'application/vnd.api+json', 'multipart/form-data; boundary=x', 'text/json', undefined,
];
const contentTypeArb = fc.oneof({ weight: 12, arbitrary: fc.constant('application/json') }, { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) });

const AUTH_VALUES = [
  undefined, '', 'Bearer', `Bearer ${SECRET}x`, `Bearer ${SECRET.slice(0, -1)}`, `Basic ${SECRET}`, `Bearer  ${SECRET}`, SECRET,
  `Bearer ${SECRET.toUpperCase()}`, `Token ${SECRET}`, `Bearer ${SECRET} ${SECRET}`, `Bearer\t${SECRET}`,
];
const authArb = fc.oneof(
  { weight: 7, arbitrary: fc.constantFrom(...VALID_AUTH) },
  { weight: 2, arbitrary: fc.constantFrom(...AUTH_VALUES) },
  { weight: 1, arbitrary: fc.stringMatching(/^[!-~]{1,60}$/) },
);
const extraHeaders = fc.record(
  {
    fuzz: fc.dictionary(fc.stringMatching(/^x-fz-[a-z0-9]{1,8}$/), fc.stringMatching(/^[!-~]{0,40}$/), { maxKeys: 3 }),
    forwarded: fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('127.0.0.1, 10.0.0.1')),
    encoding: fc.constantFrom('gzip', 'identity', 'br'),
  },
  { requiredKeys: ['fuzz'] },
);

interface CaseSpec {
  method: string;
  path: string;
  auth: string | undefined;
  contentType: string | undefined;
  body: BodySpec;
  headers: { fuzz: Record<string, string>; forwarded?: string; encoding?: string };
}

const query = fc.oneof({ weight: 9, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('?x=1', '?__proto__[polluted]=yes', '?', '?a=%ZZ') });
const post = (path: string, body: fc.Arbitrary<unknown>) =>
  fc.record({ method: fc.constant('POST'), path: query.map((q) => path + q), auth: authArb, contentType: contentTypeArb, body: bodyFor(body), headers: extraHeaders });
const get = (path: string) =>
  fc.record({ method: fc.constant('GET'), path: query.map((q) => path + q), auth: authArb, contentType: fc.constantFrom(undefined, 'application/json'), body: fc.constant({ kind: 'none' } as BodySpec), headers: extraHeaders });
const wrongRoute = fc.record({
  method: fc.constantFrom('PUT', 'GET', 'DELETE', 'PATCH', 'POST', 'HEAD', 'OPTIONS'),
  path: fc.constantFrom('/register', '/ping', '/services', '/metrics', '/leave', '/registerx', '/Register', '/register/', '//ping', '/', '/_discovery/ping', '/%2e%2e/ping'),
  auth: authArb,
  contentType: fc.constant(undefined),
  body: fc.constant({ kind: 'none' } as BodySpec),
  headers: extraHeaders,
});

const caseArb: fc.Arbitrary<CaseSpec> = fc.oneof(
  { weight: 40, arbitrary: post('/register', registerBody) },
  { weight: 20, arbitrary: post('/ping', pingBody) },
  { weight: 5, arbitrary: get('/ping') },
  { weight: 5, arbitrary: get('/services') },
  { weight: 3, arbitrary: get('/metrics') },
  { weight: 20, arbitrary: post('/leave', leaveBody) },
  { weight: 10, arbitrary: wrongRoute },
);

interface MaterialRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
}

function materialize(spec: CaseSpec, context: WriteContext): MaterialRequest {
  const headers: Record<string, string> = { ...spec.headers.fuzz };
  if (spec.headers.forwarded) headers['x-forwarded-for'] = spec.headers.forwarded;
  if (spec.headers.encoding) headers['content-encoding'] = spec.headers.encoding;
  if (spec.auth !== undefined) headers.authorization = spec.auth;
  if (spec.contentType !== undefined) headers['content-type'] = spec.contentType;
  let body: string | Uint8Array | undefined;
  switch (spec.body.kind) {
    case 'json': body = write(spec.body.value, context); break;
    case 'text': body = spec.body.text; break;
    case 'bytes': body = spec.body.bytes; break;
    case 'oversize': body = `{"pad":"${'x'.repeat(spec.body.length)}"}`; break;
    case 'none': body = spec.method === 'GET' || spec.method === 'HEAD' ? undefined : '';
  }
  return { method: spec.method, path: spec.path, headers, body };
}

function describeRequest(request: MaterialRequest): string {
  const body = request.body === undefined ? '(none)' : typeof request.body === 'string' ? request.body : `bytes ${Buffer.from(request.body).toString('hex')}`;
  return `${request.method} ${request.path} ${JSON.stringify(request.headers)} body(${body.length}): ${body.slice(0, 300)}`;
}

/** A table as "id → name url routes", the parts of an instance a request may change. */
type Projection = Map<string, string>;
const routesJson = new WeakMap<object, string>();
const jsonOf = (routes: ModelRoute[]): string => {
  let json = routesJson.get(routes);
  if (json === undefined) routesJson.set(routes, (json = JSON.stringify(routes.map(({ method, path, names }) => ({ method, path, names })))));
  return json;
};

describe('fuzzed discovery input', () => {
  it(`answers ${BATCHES * CONCURRENCY} generated requests with a 4xx (200 only when valid and authenticated), stays up, and changes the table only as the model says`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    // pingInterval far beyond the test: only requests change the table, never the health round.
    const target = await startApp(TARGET, { options: { pingInterval: 600_000 } });
    const selfId = target.micro.peers().find((peer) => peer.self)!.id;
    const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort().join();
    const arrayPrototypeNames = Object.getOwnPropertyNames(Array.prototype).sort().join();
    const pool = new Pool(target.url, { connections: CONCURRENCY, headersTimeout: 20_000, bodyTimeout: 20_000 });
    const project = (): Projection => new Map(target.micro.peers().map((peer) => [peer.id, `${peer.service} ${peer.url} ${jsonOf(peer.routes)}`]));
    const tally = { sent: 0, byStatus: new Map<number, number>(), registered: 0, left: 0 };
    let counter = 0;

    try {
      for (let batch = 0; batch < BATCHES; batch++) {
        const specs = fc.sample(fc.array(caseArb, { minLength: CONCURRENCY, maxLength: CONCURRENCY }), { numRuns: 1, seed: seed + batch })[0]!;
        const before = project();
        const context: WriteContext = { next: () => counter++, known: [...before.keys()].filter((id) => id !== selfId) };
        const requests = specs.map((spec) => materialize(spec, context));
        const expected = requests.map(expectation);

        // The model's table after the batch: registers add fresh ids (dropping a stale instance at
        // the same URL), leaves remove ids; inside a batch they touch disjoint ids, so order is moot.
        const model = new Map(before);
        for (const { effect, contacts } of expected) {
          for (const url of contacts) if (new URL(url).hostname !== '127.0.0.1') throw new Error(`generator bug: ${url} is not loopback`);
          if (effect?.kind === 'leave' && effect.id !== selfId) model.delete(effect.id);
        }
        for (const { effect } of expected) {
          if (effect?.kind !== 'register') continue;
          const { id, name, url, routes } = effect.register;
          if (id === selfId || url === target.url) continue;
          for (const [other, value] of model) if (other !== selfId && value.split(' ')[1] === url) model.delete(other);
          model.set(id, `${name} ${url} ${jsonOf(routes)}`);
        }

        const answers = await Promise.all(
          requests.map(async (request) => {
            try {
              const response = await pool.request({ method: request.method as 'POST', path: `/_discovery${request.path}`, headers: request.headers, body: request.body });
              return { status: response.statusCode, text: await response.body.text(), headers: JSON.stringify(response.headers) };
            } catch (error) {
              return { status: -1, text: String(error), headers: '' };
            }
          }),
        );
        answers.forEach((answer, index) => {
          const request = requests[index]!;
          const want = expected[index]!;
          tally.sent++;
          tally.byStatus.set(answer.status, (tally.byStatus.get(answer.status) ?? 0) + 1);
          if (answer.status !== want.status) {
            throw new Error(`seed ${seed}, batch ${batch}: expected ${want.status}, got ${answer.status} (${answer.text.slice(0, 200)}) for ${describeRequest(request)}`);
          }
          expect(answer.text.includes(SECRET) || answer.headers.includes(SECRET), 'the secret in an answer').toBe(false);
          if (want.status === 200 && want.effect?.kind === 'register') tally.registered++;
          if (want.status === 200 && want.effect?.kind === 'leave' && before.has(want.effect.id)) tally.left++;
        });

        const after = project();
        if (after.size !== model.size || [...model].some(([id, value]) => after.get(id) !== value)) {
          const extra = [...after.keys()].filter((id) => !model.has(id));
          const missing = [...model.keys()].filter((id) => !after.has(id));
          throw new Error(`seed ${seed}, batch ${batch}: table differs from the model (unexpected: ${extra.join(', ')}; missing: ${missing.join(', ')})\n${requests.map(describeRequest).join('\n')}`);
        }
      }
    } finally {
      await pool.close();
    }

    // Still up and answering, no prototype touched.
    expect(target.server.listening).toBe(true);
    const services = await fetch(`${target.url}/_discovery/services`, { headers: { authorization: `Bearer ${SECRET}` } });
    expect(services.status).toBe(200);
    expect((await services.json()).thisService.name).toBe(TARGET);
    expect(Object.getOwnPropertyNames(Object.prototype).sort().join()).toBe(prototypeNames);
    expect(Object.getOwnPropertyNames(Array.prototype).sort().join()).toBe(arrayPrototypeNames);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(tally.sent).toBeGreaterThanOrEqual(10_000);
    // The generator must reach every outcome, or the test proves less than it says.
    for (const status of [200, 400, 401, 404, 405, 413, 415]) expect(tally.byStatus.get(status) ?? 0, `answers with ${status}`).toBeGreaterThan(0);
    expect(tally.registered).toBeGreaterThan(0);
    expect(tally.left).toBeGreaterThan(0);
    console.info(`fuzz: seed ${seed}, ${tally.sent} requests, statuses ${JSON.stringify(Object.fromEntries([...tally.byStatus].sort()))}, ${tally.registered} valid registers, ${tally.left} leaves of known instances, table ${target.micro.peers().length} instances`);
  }, 120_000);

  it('refuses deeply nested bodies with 400, not 500, when the app parses JSON in front of the plugin', async () => {
    // express.json() before expressMicro(): the plugin gets a parsed body and serialises it again.
    const target = await startApp('parsed-target', { before: (app) => app.use(express.json({ limit: '2mb' })), options: { pingInterval: 600_000 } });
    const before = JSON.stringify(target.micro.peers());
    const deep = fc.oneof(
      fc.integer({ min: 20_000, max: 200_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
      fc.integer({ min: 20_000, max: 100_000 }).map((depth) => `{"self":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)},"members":[]}`),
      fc.integer({ min: 20_000, max: 100_000 }).map((depth) => `{"self":{"protocol":1,"name":"a","id":"abcdefgh","url":"http://127.0.0.1:9","rev":"r","routes":[${'['.repeat(depth)}${']'.repeat(depth)}]},"members":[]}`),
      fc.integer({ min: 20_000, max: 100_000 }).map((depth) => `{"id":${'['.repeat(depth)}${']'.repeat(depth)}}`),
    );
    const bodies = fc.sample(deep, { numRuns: 60, seed: 7 });
    const statuses = new Map<number, number>();
    for (const [index, body] of bodies.entries()) {
      const path = ['/register', '/ping', '/leave'][index % 3]!;
      const response = await fetch(`${target.url}/_discovery${path}`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body });
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      expect(response.status, `${path} with ${body.length} bytes of nesting`).toBe(400);
    }
    expect(JSON.stringify(target.micro.peers())).toBe(before);
    expect(target.server.listening).toBe(true);
  }, 60_000);
});
