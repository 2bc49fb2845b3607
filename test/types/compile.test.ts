/**
 * What the generated file does to a user's program, checked by the TypeScript compiler: consumer
 * files are compiled against a file generated from the fixture services' source and against the
 * library's own source. Correct calls compile; a misspelled call, an unknown service, a missing
 * path parameter and a misused answer field each fail with the message a user would read. Without
 * a generated file, `services` stays as loose as it always was.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, compile, completions, ROOT, runCli, tempFolder } from './support.ts';

const folder = tempFolder('compile');
let generated = '';

beforeAll(async () => {
  const run = await runCli(['types', '--app', 'test/types/fixtures/express5/user-service.ts', '--app', 'test/types/fixtures/express4/order-service.ts', '--out', join(folder.path, 'services.d.ts')]);
  expect(run.err).toMatch(/wrote .* \(2 services, \d+ calls, 3 events\)\n$/);
  expect(run.code).toBe(0);
  generated = readFileSync(join(folder.path, 'services.d.ts'), 'utf8');
}, 60_000);

afterAll(() => folder.remove());

const HEAD = `import express from 'express';
import expressMicro from 'express-micro';

const { services } = expressMicro(express(), { serviceName: 'gateway', logger: false });
`;

const CORRECT = `${HEAD}
export async function correct(): Promise<unknown[]> {
  const user = await services.userService.getUser({ id: 7 });
  const name: string = user.name;
  const created: string = user.createdAt; // a Date arrives as JSON: a string
  const email: string | undefined = user.email;
  const role: 'admin' | 'member' = user.role;
  const same = await services['user-service'].getUser(7);
  const snake = await services.user_service.getUser({ id: '7', expand: true }, { timeout: 500 });
  const list = await services.userService.getUsers({ page: 2 });
  const first: string | undefined = list[0]?.name;
  const account = await services.userService.getAccount({ accountId: 'a1' });
  const currency: 'EUR' = account.currency;
  const audit = await services.userService.getAudit();
  const at: string | undefined = audit[0]?.at;
  const removed: undefined = await services.userService.deleteUser(3);
  const health: string = await services.userService.getHealth();
  const files = await services.userService.getFiles<{ any: string }>({ splat: 'a/b' }); // unknown answer: the caller says; *splat is a parameter
  await services.userService.$call('GET', '/teams/:id', { id: 1 }); // an ambiguous name, by path
  const pinned = await services.userService.$with({ version: '2' }).getUser({ id: 7 }); // the same typed client, restricted
  const pinnedName: string = pinned.name;
  await services.userService.findItem({ id: 1 }); // one handler on three paths: one call
  await services.userService.findItem(2);
  const report = await services.userService.getReport({ reportId: 'r1' }); // a sub-app's route
  const rows: number = report.rows;
  const order = await services.orderService.getOrder({ orderId: 'o1' });
  const quantity: number = order.items[0]?.quantity ?? 0;
  const note: string | undefined = order.note;
  const orders = await services.orderService.getUserOrders({ userId: 1 }); // optional :orderId left out
  const created2 = await services.order_service.createOrder({ item: 'pen' });
  const ok: boolean = created2.created;
  // $with: the same service's client, as typed, $call included; chained selectors too.
  const canary = await services.userService.$with({ track: 'canary' }).getUser(7);
  const canaryName: string = canary.name;
  await services['user-service'].$with({ version: '2' }).$with({ zone: 'a' }).$call('GET', '/teams/:id', { id: 1 });
  const pinnedOrder: boolean = (await services.order_service.$with({ version: '2' }).createOrder({ item: 'pen' })).created;
  return [name, created, email, role, same.id, snake.tags, first, currency, at, removed, health, files.any, quantity, note, orders.length, ok, canaryName, pinnedOrder, pinnedName, rows];
}
`;

const WRONG = `${HEAD}
export async function wrong(): Promise<unknown[]> {
  const user = await services.userService.getUser({ id: 7 });
  await services.userService.getUsr({ id: 7 }); // error: Property 'getUsr' does not exist on type 'KnownService<UserService>'. Did you mean 'getUser'?
  await services.userServise.getUser({ id: 7 }); // error: Property 'userServise' does not exist on type 'KnownServices'. Did you mean 'userService'?
  await services.paymentService.charge({}); // error: Property 'paymentService' does not exist on type 'KnownServices'
  await services.userService.getUser({}); // error: Property 'id' is missing in type '{}' but required in type '{ [key: string]: unknown; id: string | number; }'
  await services.orderService.getOrder({ id: 'o1' }); // error: Property 'orderId' is missing
  const age: number = user.name; // error: Type 'string' is not assignable to type 'number'
  const year = user.createdAt.getFullYear(); // error: Property 'getFullYear' does not exist on type 'string'
  await services.userService.findById({ id: 1 }); // error: Property 'findById' does not exist
  services.userService.$with({ version: 2 }); // error: Type 'number' is not assignable to type 'string'
  await services.userService.$with({ version: '2' }).getUsr({ id: 7 }); // error: Property 'getUsr' does not exist
  return [age, year];
}
`;

describe('a consumer compiled with the file generated from source', () => {
  for (const noUncheckedIndexedAccess of [false, true]) {
    it(`compiles correct calls and refuses wrong ones with readable messages (noUncheckedIndexedAccess: ${noUncheckedIndexedAccess})`, { timeout: 60_000 }, () => {
      const files = { 'services.d.ts': generated, 'correct.ts': CORRECT, 'wrong.ts': WRONG };
      const result = compare(files, compile(folder.path, files, { noUncheckedIndexedAccess }));
      expect(result.unexpected).toEqual([]);
      expect(result.missing).toEqual([]);
    });
  }

  it('gives editors completion: the services after `services.`, the calls after `services.userService.`', { timeout: 60_000 }, () => {
    const files = { 'services.d.ts': generated, 'editing.ts': `${HEAD}\nvoid services.$;\n` };
    expect(completions(folder.path, files, 'editing.ts').sort()).toEqual(['order-service', 'orderService', 'order_service', 'user-service', 'userService', 'user_service']);
    const calls = completions(folder.path, { ...files, 'editing.ts': `${HEAD}\nvoid services.userService.$;\n` }, 'editing.ts');
    expect(calls).toEqual(expect.arrayContaining(['$call', '$with', 'getUser', 'getUsers', 'listUsers', 'getAccount', 'createSession']));
    expect(calls).not.toContain('findById');
  });

  it('is plain interfaces: no conditional, mapped or imported user types for the checker to unfold', () => {
    expect(generated).not.toMatch(/\bextends\b|\binfer\b|\bkeyof\b|\bimport\(/);
    expect(generated.match(/^import /gm)).toEqual(['import ']);
    expect(generated).toContain("import type { CallOptions } from \"express-micro\";");
  });
});

const MICRO_HEAD = `import express from 'express';
import expressMicro from 'express-micro';

const micro = expressMicro(express(), { serviceName: 'gateway', logger: false });
`;

describe('events: the EventRegistry the file declares', () => {
  it('declares every event the services subscribe to, sorted, with the payload their handlers declare (unknown when none does)', () => {
    expect(generated).toContain(`  interface EventRegistry {
    /** Subscribed to by order-service, user-service. */
    "cache.flush": unknown;
    /** Subscribed to by user-service. */
    "order.created": { id: string; total: number; at: string };
    /** Subscribed to by order-service. */
    "user.deleted": { id: string };
  }
}
`);
  });

  it('types emit, broadcast and the handlers of subscribe with those payloads', { timeout: 60_000 }, () => {
    const consumer = `${MICRO_HEAD}
export async function events(): Promise<unknown[]> {
  micro.subscribe('order.created', (order, meta) => {
    const total: number = order.total;
    const at: string = order.at; // a Date arrives as JSON: a string
    const name: string = meta.event;
    void [total, at, name];
  });
  micro.subscribe('user.deleted', (user) => void (user.id satisfies string));
  micro.subscribe('user.deleted', (user) => { const id: number = user.id; void id; }); // error: Type 'string' is not assignable to type 'number'
  micro.subscribe('cache.flush', (payload) => void payload.key); // error: 'payload' is of type 'unknown'
  const sent = await micro.emit('order.created', { id: 'o1', total: 3, at: '2024-01-01T00:00:00.000Z' });
  await micro.emit('order.created', { id: 'o1' }); // error: is missing the following properties from type '{ id: string; total: number; at: string; }': total, at
  await micro.broadcast('user.deleted', { id: 7 }); // error: Type 'number' is not assignable to type 'string'
  await micro.broadcast('cache.flush', { key: 'users' }); // declared unknown: anything goes
  await micro.emit('not.declared', 42); // a name the file does not declare: unknown, as without it
  return [sent.id];
}
`;
    const files = { 'services.d.ts': generated, 'events.ts': consumer };
    const result = compare(files, compile(folder.path, files));
    expect(result.unexpected).toEqual([]);
    expect(result.missing).toEqual([]);
  });

  it('with --no-events leaves EventRegistry out, so a project can declare its payload types itself', { timeout: 60_000 }, async () => {
    const out = join(folder.path, 'no-events.d.ts');
    const run = await runCli(['types', '--app', 'test/types/fixtures/express5/user-service.ts', '--app', 'test/types/fixtures/express4/order-service.ts', '--out', out, '--no-events']);
    expect(run.code).toBe(0);
    expect(run.err).toMatch(/wrote .*no-events\.d\.ts \(2 services, \d+ calls\)\n$/);
    const withoutEvents = readFileSync(out, 'utf8');
    expect(withoutEvents).not.toContain('EventRegistry');
    const declared = `${MICRO_HEAD}
declare module 'express-micro' {
  interface EventRegistry {
    'order.created': { id: string; total: number; at: Date };
  }
}
micro.subscribe('order.created', (order) => void order.at.getTime());
await micro.emit('order.created', { id: 'o1', total: 3, at: new Date() });
await micro.emit('order.created', { id: 'o1', total: '3', at: new Date() }); // error: Type 'string' is not assignable to type 'number'
`;
    const files = { 'services.d.ts': withoutEvents, 'declared.ts': declared };
    const result = compare(files, compile(folder.path, files));
    expect(result.unexpected).toEqual([]);
    expect(result.missing).toEqual([]);
  });
});

describe('without a generated file', () => {
  it('services stay loose, as before: any service, any call, answers unknown unless the caller says', { timeout: 60_000 }, () => {
    const loose = `${HEAD}
export async function loose(): Promise<unknown[]> {
  const user = await services.userService.getUser<{ name: string }>({ id: 7 });
  const any = await services['whatever-service'].anyCall(7, { timeout: 10 });
  const call = await services.x.$call('GET', '/y');
  const name: string = any.name; // error: 'any' is of type 'unknown'
  return [user.name, call, name];
}
`;
    const files = { 'loose.ts': loose };
    // Under noUncheckedIndexedAccess a loose service is possibly undefined, as it always was.
    const result = compare(files, compile(folder.path, files, { noUncheckedIndexedAccess: false }));
    expect(result.unexpected).toEqual([]);
    expect(result.missing).toEqual([]);
  });

  it('responseType types the answer: bytes a Uint8Array, stream a ReadableStream, text a string (docs/bodies.md)', { timeout: 60_000 }, () => {
    const bodies = `${HEAD}
export async function bodies(): Promise<unknown[]> {
  const bytes: Uint8Array = await services.files.getFile({ id: 1 }, { responseType: 'bytes' });
  const stream: ReadableStream<Uint8Array> = await services.files.$call('GET', '/export', undefined, { responseType: 'stream' });
  const text: string = await services.files.getText(undefined, { responseType: 'text' });
  const user = await services.files.getUser<{ name: string }>({ id: 1 }, { responseType: 'json' });
  await services.files.putFile({ id: 1 }, { body: bytes, headers: { 'content-type': 'image/png' } });
  await services.files.putFile({ id: 1 }, { body: stream });
  const wrong: string = await services.files.getFile({ id: 1 }, { responseType: 'bytes' }); // error: is not assignable to type 'string'
  await services.files.putFile({ id: 1 }, { body: 42 }); // error: is not assignable to type 'CallBody
  return [bytes, stream, text, user.name, wrong];
}
`;
    const files = { 'bodies.ts': bodies };
    const result = compare(files, compile(folder.path, files, { noUncheckedIndexedAccess: false }));
    expect(result.unexpected).toEqual([]);
    expect(result.missing).toEqual([]);
  });

  it('a hand-written registry leaves the services it does not list reachable (the README\'s "Typed services")', { timeout: 60_000 }, () => {
    const handWritten = `${HEAD}
declare module 'express-micro' {
  interface ServiceRegistry {
    userService: { getUser(args: { id: string | number }): Promise<{ id: string; name: string }> };
  }
}
export async function partly(): Promise<unknown[]> {
  const user = await services.userService.getUser({ id: 7 });
  const other = await services.orderService.getOrders<string[]>({ userId: 7 });
  await services.userService.getUsr({ id: 7 }); // error: Property 'getUsr' does not exist
  const wrong: number = user.name; // error: Type 'string' is not assignable to type 'number'
  return [user.name, other.length, wrong];
}
`;
    const files = { 'partly.ts': handWritten };
    const result = compare(files, compile(folder.path, files, { noUncheckedIndexedAccess: false }));
    expect(result.unexpected).toEqual([]);
    expect(result.missing).toEqual([]);
  });
});

it('the consumer files are where the test says (sanity of the harness: a wrong mark is caught)', () => {
  const files = { 'a.ts': 'export const a: number = 1; // error: something that never happens\nexport const b: string = 2;\n' };
  const result = compare(files, [
    { file: 'a.ts', line: 1, code: 0, message: 'another message' },
    { file: 'a.ts', line: 2, code: 2322, message: "Type 'number' is not assignable to type 'string'." },
  ]);
  expect(result.missing).toHaveLength(1);
  expect(result.unexpected).toEqual(["a.ts:2: TS2322 Type 'number' is not assignable to type 'string'."]);
  expect(ROOT).toMatch(/\/$/);
});
