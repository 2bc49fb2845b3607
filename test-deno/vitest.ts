/**
 * `vitest` for `deno test`: the part of vitest's API the shared behavioural suite
 * (test/behaviour/) uses, on top of Deno's own runner. test-deno/import-map.json maps the bare
 * `vitest` import here, so the very files Node runs with vitest and Bun with `bun test` run on Deno
 * unchanged. Assertions are vitest's own `expect` (@vitest/expect on chai), so a matcher means
 * the same on every runtime.
 *
 * Each `it` becomes one `Deno.test` named `suite > test`. Hooks keep vitest's order: a suite's
 * `beforeAll` runs before its first test, its `afterAll` after its last; `beforeEach` outer to
 * inner, `afterEach` inner to outer. Top-level hooks belong to the file that declared them.
 * Deno's op and resource sanitizers are off because a suite's servers live across its tests, as
 * in vitest; leaks are the subject of the suite's own tests.
 */
import {
  ASYMMETRIC_MATCHERS_OBJECT,
  chai,
  GLOBAL_EXPECT,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  setState,
  type ExpectStatic,
} from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

/** vitest's `expect`, without a test context (no snapshots, no `expect.poll`). */
export const expect: ExpectStatic = ((value: unknown, message?: string) => chai.expect(value, message)) as ExpectStatic;
Object.assign(expect, chai.expect);
Object.assign(expect, (globalThis as Record<symbol, unknown>)[ASYMMETRIC_MATCHERS_OBJECT]);
setState({ assertionCalls: 0, isExpectingAssertions: false, expectedAssertionsNumber: null }, expect);
Object.defineProperty(globalThis, GLOBAL_EXPECT, { value: expect, writable: true, configurable: true });

type Body = () => unknown;
type Hook = () => unknown;
/** A test's options, as vitest takes them. */
export interface TestOptions {
  timeout?: number;
}

interface Suite {
  name: string;
  parent: Suite | undefined;
  skip: boolean;
  beforeAll: TimedHook[];
  afterAll: TimedHook[];
  beforeEach: TimedHook[];
  afterEach: TimedHook[];
  /** Tests declared in this suite or below, in order; the last one runs afterAll. */
  tests: Case[];
  started: boolean;
}

/** A hook and how long it may take (vitest's second argument, default HOOK_TIMEOUT). */
interface TimedHook {
  hook: Hook;
  timeout: number;
}

interface Case {
  name: string;
  suite: Suite;
  body: Body;
  timeout: number;
}

const TEST_TIMEOUT = 20_000; // as vitest.config.ts sets it for vitest
const HOOK_TIMEOUT = 10_000;

const files = new Map<string, Suite>();
let current: Suite | undefined;

function newSuite(name: string, parent: Suite | undefined, skip: boolean): Suite {
  return { name, parent, skip, beforeAll: [], afterAll: [], beforeEach: [], afterEach: [], tests: [], started: false };
}

/** The file a top-level declaration comes from: the first stack frame outside this module. */
function callerFile(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  for (const frame of frames) {
    const match = /(file:\/\/[^\s)]+?):\d+:\d+/.exec(frame);
    if (match && match[1] !== import.meta.url) return match[1]!;
  }
  return 'unknown';
}

function scope(): Suite {
  if (current) return current;
  const file = callerFile();
  let root = files.get(file);
  if (!root) files.set(file, (root = newSuite('', undefined, false)));
  return root;
}

function chain(suite: Suite): Suite[] {
  const suites: Suite[] = [];
  for (let at: Suite | undefined = suite; at; at = at.parent) suites.unshift(at);
  return suites;
}

async function within<T>(work: () => T | Promise<T>, timeout: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out in ${timeout} ms`)), timeout);
  });
  try {
    return await Promise.race([Promise.resolve().then(work), expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function run(test: Case): Promise<void> {
  const suites = chain(test.suite);
  for (const suite of suites) {
    if (suite.started) continue;
    suite.started = true;
    for (const { hook, timeout } of suite.beforeAll) await within(hook, timeout, `beforeAll of "${suite.name}"`);
  }
  let failure: unknown;
  try {
    for (const suite of suites) for (const { hook, timeout } of suite.beforeEach) await within(hook, timeout, 'beforeEach');
    await within(test.body, test.timeout, `test "${test.name}"`);
  } catch (error) {
    failure = error;
  }
  for (const suite of [...suites].reverse()) {
    for (const { hook, timeout } of suite.afterEach) {
      try {
        await within(hook, timeout, 'afterEach');
      } catch (error) {
        failure ??= error;
      }
    }
  }
  for (const suite of [...suites].reverse()) {
    if (suite.tests.at(-1) !== test) continue;
    for (const { hook, timeout } of suite.afterAll) {
      try {
        await within(hook, timeout, `afterAll of "${suite.name}"`);
      } catch (error) {
        failure ??= error;
      }
    }
  }
  if (failure !== undefined) throw failure;
}

function declare(name: string, body: Body, timeout: number, skip: boolean): void {
  const suite = scope();
  const ignore = skip || chain(suite).some((at) => at.skip);
  const fullName = [...chain(suite).map((at) => at.name).filter(Boolean), name].join(' > ');
  const test: Case = { name: fullName, suite, body, timeout };
  if (!ignore) for (const at of chain(suite)) at.tests.push(test);
  Deno.test({ name: fullName, ignore, sanitizeOps: false, sanitizeResources: false, fn: () => run(test) });
}

type TestArguments = [body?: Body, timeout?: number | TestOptions] | [options: TestOptions, body: Body];

function parse(args: TestArguments): { body: Body; timeout: number } {
  const [first, second] = args;
  if (typeof first === 'function') {
    const options = second as number | TestOptions | undefined;
    return { body: first, timeout: typeof options === 'number' ? options : (options?.timeout ?? TEST_TIMEOUT) };
  }
  if (typeof second === 'function') return { body: second, timeout: (first as TestOptions | undefined)?.timeout ?? TEST_TIMEOUT };
  return { body: () => {}, timeout: TEST_TIMEOUT };
}

/** vitest's name templates: `$key` from an object row, printf-style `%s %d %i %j %o %#` from an array row. */
function title(template: string, row: unknown, index: number): string {
  if (row !== null && typeof row === 'object' && !Array.isArray(row)) {
    return template.replace(/\$([A-Za-z_$][\w$]*)/g, (whole, key: string) => (key in row ? String((row as Record<string, unknown>)[key]) : whole));
  }
  const values = Array.isArray(row) ? [...row] : [row];
  return template.replace(/%[sdijo#%]/g, (token) => {
    if (token === '%%') return '%';
    if (token === '%#') return String(index);
    const value = values.shift();
    if (token === '%j' || token === '%o') return JSON.stringify(value) ?? String(value);
    if (token === '%d' || token === '%i') return String(Number(value));
    return typeof value === 'function' ? '[Function]' : typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  });
}

/** `each` as vitest types it: rows that are arrays are spread into the body's arguments. */
interface Each<Result> {
  <Row extends unknown[] | [unknown]>(rows: readonly Row[]): (name: string, body: (...args: Row) => Result, timeout?: number) => void;
  <Row>(rows: readonly Row[]): (name: string, body: (row: Row) => Result, timeout?: number) => void;
}

type TestFunction = {
  (name: string, ...args: TestArguments): void;
  skip(name: string, ...args: TestArguments): void;
  skipIf(condition: unknown): (name: string, ...args: TestArguments) => void;
  each: Each<unknown>;
};

/** Calls `body` once per row, as vitest's `each` does: array rows spread, others passed whole. */
function eachRow(rows: readonly unknown[], declareRow: (title: (template: string) => string, call: (body: (...args: unknown[]) => unknown) => unknown) => void): void {
  rows.forEach((row, index) => {
    const values = Array.isArray(row) ? (row as unknown[]) : [row];
    declareRow((template) => title(template, row, index), (body) => body(...values));
  });
}

function makeTest(): TestFunction {
  const test = ((name: string, ...args: TestArguments) => {
    const { body, timeout } = parse(args);
    declare(name, body, timeout, false);
  }) as TestFunction;
  test.skip = (name, ...args) => declare(name, parse(args).body, TEST_TIMEOUT, true);
  test.skipIf = (condition) => (name, ...args) => {
    const { body, timeout } = parse(args);
    declare(name, body, timeout, Boolean(condition));
  };
  test.each = ((rows: readonly unknown[]) => (name: string, body: (...args: unknown[]) => unknown, timeout = TEST_TIMEOUT) =>
    eachRow(rows, (named, call) => declare(named(name), () => call(body), timeout, false))) as Each<unknown>;
  return test;
}

/** Declares a test. */
export const it: TestFunction = makeTest();
/** Declares a test (same as `it`). */
export const test: TestFunction = it;

type DescribeFunction = {
  (name: string, body: () => void): void;
  skip(name: string, body: () => void): void;
  each: Each<void>;
};

function group(name: string, body: () => void, skip: boolean): void {
  const parent = scope();
  const suite = newSuite(name, parent, skip);
  current = suite;
  try {
    body();
  } finally {
    current = parent.parent === undefined && parent.name === '' ? undefined : parent;
  }
}

/** Declares a suite. */
export const describe: DescribeFunction = Object.assign((name: string, body: () => void) => group(name, body, false), {
  skip: (name: string, body: () => void) => group(name, body, true),
  each: ((rows: readonly unknown[]) => (name: string, body: (...args: unknown[]) => void) =>
    eachRow(rows, (named, call) => group(named(name), () => void call(body), false))) as Each<void>,
});

/** Runs before the first test of the current suite. */
export function beforeAll(hook: Hook, timeout: number = HOOK_TIMEOUT): void {
  scope().beforeAll.push({ hook, timeout });
}
/** Runs after the last test of the current suite. */
export function afterAll(hook: Hook, timeout: number = HOOK_TIMEOUT): void {
  scope().afterAll.push({ hook, timeout });
}
/** Runs before each test of the current suite and the suites in it. */
export function beforeEach(hook: Hook, timeout: number = HOOK_TIMEOUT): void {
  scope().beforeEach.push({ hook, timeout });
}
/** Runs after each test of the current suite and the suites in it. */
export function afterEach(hook: Hook, timeout: number = HOOK_TIMEOUT): void {
  scope().afterEach.push({ hook, timeout });
}
