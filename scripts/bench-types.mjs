// What a generated declaration file costs the TypeScript checker (`express-micro types`).
//
//   node scripts/bench-types.mjs        (needs dist/: npm run build)
//
// 1. Writes the sources of 50 services with 10 routes each (500 routes; every handler answers
//    with res.json() of an object, so every call gets an inferred answer type) and generates one
//    declaration file from them with the built bin: `node dist/cli.js types --app … --out …`.
// 2. Times `tsc --noEmit` of one consumer that calls all 500 routes, with the generated file in
//    the program and without it (then `services` is loose, the baseline), interleaved, BENCH_ROUNDS
//    times each (default 5). Prints the medians of wall time and of tsc's own "Check time", and
//    their ratios with/without.
// 3. Asks TypeScript's language service (what editors use) for completions after
//    `services.service25.` in that consumer: the first request (which builds the program) and the
//    median of BENCH_ROUNDS more. All in a temp folder under .tmp/, removed afterwards.
//
// Not part of npm test. Plain Node ESM; nothing is sent over the network.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { record } from './bench-lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVICES = 50;
const ROUTES = 10;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const NOUNS = ['item', 'order', 'invoice', 'shipment', 'ticket', 'account', 'report', 'device', 'session', 'product'];

/** One service's source: 10 routes on one resource, answers of a few fields each. */
function serviceSource(index) {
  const name = `service-${String(index).padStart(2, '0')}`;
  const noun = `${NOUNS[index % NOUNS.length]}${index}`;
  const plural = `${noun}s`;
  const Type = noun[0].toUpperCase() + noun.slice(1);
  return {
    name,
    noun,
    text: `import express from 'express';
import expressMicro from 'express-micro';

interface ${Type} {
  id: string;
  title: string;
  count: number;
  active: boolean;
  createdAt: Date;
  tags: string[];
  owner: { id: string; name: string; email?: string };
  lines: { sku: string; quantity: number; price: number }[];
}

const sample = (id: string): ${Type} => ({ id, title: 't', count: 1, active: true, createdAt: new Date(0), tags: [], owner: { id: 'o', name: 'n' }, lines: [] });

export const app = express();
expressMicro(app, { serviceName: '${name}' });
const router = express.Router();
router.get('/${plural}/:id', (req, res) => { res.json(sample(req.params.id)); });
router.get('/${plural}', (req, res) => { res.json([sample('1')]); });
router.post('/${plural}', (req, res) => { res.status(201).json({ id: '1', created: true }); });
router.put('/${plural}/:id', (req, res) => { res.json(sample(req.params.id)); });
router.delete('/${plural}/:id', (req, res) => { res.status(204).end(); });
router.get('/${plural}/:id/history', (req, res) => { res.json([{ at: new Date(0), change: 'x', by: { id: 'u' } }]); });
router.patch('/${plural}/:id/status', (req, res) => { res.json({ status: 'open' as 'open' | 'closed' }); });
router.get('/reports/${noun}-summary', (req, res) => { res.json({ total: 1, byTag: { a: 1 } as Record<string, number> }); });
router.get('/users/:userId/${plural}', (req, res) => { res.json([sample('1')]); });
router.post('/${noun}-imports', (req, res) => { res.status(202).json({ jobId: 'j', queued: 1 }); });
app.use('/api', router);
`,
  };
}

const CALLS = (noun) => {
  const Noun = noun[0].toUpperCase() + noun.slice(1);
  return [
    `get${Noun}({ id: 1 })`,
    `get${Noun}s()`,
    `create${Noun}({ title: 'x' })`,
    `update${Noun}({ id: 1, title: 'y' })`,
    `delete${Noun}(1)`,
    `get${Noun}History({ id: 1 })`,
    `patch${Noun}Status({ id: 1, status: 'closed' })`,
    `get${Noun}Summary()`,
    `getUser${Noun}s({ userId: 2 })`,
    `create${Noun}Import({ rows: [] })`,
  ];
};

function tscRun(folder, project) {
  const started = performance.now();
  const output = execFileSync(process.execPath, [TSC, '-p', project, '--extendedDiagnostics'], { cwd: folder, encoding: 'utf8' });
  const wall = performance.now() - started;
  const check = Number(/^Check time:\s+([\d.]+)s$/m.exec(output)?.[1] ?? NaN) * 1000;
  const types = Number(/^Types:\s+(\d+)$/m.exec(output)?.[1] ?? NaN);
  return { wall, check, types };
}

mkdirSync(join(ROOT, '.tmp'), { recursive: true });
const folder = mkdtempSync(join(ROOT, '.tmp', 'bench-types-'));
try {
  mkdirSync(join(folder, 'services'));
  const services = [];
  for (let index = 1; index <= SERVICES; index++) {
    const service = serviceSource(index);
    writeFileSync(join(folder, 'services', `${service.name}.ts`), service.text);
    services.push(service);
  }
  const common = {
    target: 'ES2022',
    module: 'ESNext',
    moduleResolution: 'Bundler',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    paths: { 'express-micro': [join(ROOT, 'dist/index.d.ts')] },
  };
  writeFileSync(join(folder, 'tsconfig.json'), JSON.stringify({ compilerOptions: common, files: [] }, null, 2));

  const generateStarted = performance.now();
  execFileSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'types', ...services.flatMap((service) => ['--app', `services/${service.name}.ts`]), '--out', 'services.d.ts'], {
    cwd: folder,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const generateMs = performance.now() - generateStarted;
  const generated = readFileSync(join(folder, 'services.d.ts'), 'utf8');
  const calls = (generated.match(/^ {2}\/\*\* /gm) ?? []).length;
  if (calls !== SERVICES * ROUTES) throw new Error(`expected ${SERVICES * ROUTES} typed calls in the generated file, found ${calls}`);

  const consumer = [
    "import express from 'express';",
    "import expressMicro from 'express-micro';",
    '',
    "const { services } = expressMicro(express(), { serviceName: 'consumer', logger: false });",
    'export async function callEverything(): Promise<unknown[]> {',
    '  const answers: unknown[] = [];',
    ...services.flatMap((service) => CALLS(service.noun).map((call) => `  answers.push(await services['${service.name}'].${call});`)),
    '  return answers;',
    '}',
    '',
  ].join('\n');
  writeFileSync(join(folder, 'consumer.ts'), consumer);
  writeFileSync(join(folder, 'tsconfig.with.json'), JSON.stringify({ compilerOptions: common, files: ['consumer.ts', 'services.d.ts'] }));
  writeFileSync(join(folder, 'tsconfig.without.json'), JSON.stringify({ compilerOptions: common, files: ['consumer.ts'] }));

  // Both must compile: the consumer is valid loosely and typed.
  const runs = { with: [], without: [] };
  tscRun(folder, 'tsconfig.with.json');
  tscRun(folder, 'tsconfig.without.json');
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of round % 2 === 0 ? ['with', 'without'] : ['without', 'with']) runs[variant].push(tscRun(folder, `tsconfig.${variant}.json`));
  }
  const summary = (list) => ({ wall: median(list.map((run) => run.wall)), check: median(list.map((run) => run.check)), types: list[0].types });
  const withFile = summary(runs.with);
  const without = summary(runs.without);
  const bytes = Buffer.byteLength(generated);
  console.log(`generated: ${SERVICES} services, ${calls} calls, ${(bytes / 1024).toFixed(0)} KiB, in ${(generateMs / 1000).toFixed(1)} s (node dist/cli.js types --app ×${SERVICES})`);
  console.log(`tsc --noEmit of a consumer making all ${calls} calls, median of ${ROUNDS} (TypeScript ${JSON.parse(readFileSync(join(ROOT, 'node_modules/typescript/package.json'), 'utf8')).version}):`);
  console.log(`  without the generated file: wall ${without.wall.toFixed(0)} ms, check ${without.check.toFixed(0)} ms, ${without.types} types`);
  console.log(`  with the generated file:    wall ${withFile.wall.toFixed(0)} ms, check ${withFile.check.toFixed(0)} ms, ${withFile.types} types`);
  const completion = completionTimes(folder, common);
  console.log(`  ratio with/without: wall ${(withFile.wall / without.wall).toFixed(2)}x, check ${(withFile.check / without.check).toFixed(2)}x (+${(withFile.wall - without.wall).toFixed(0)} ms wall)`);
  console.log(`completions after services.service25. (language service): first ${completion.first.toFixed(0)} ms (builds the program), then median ${completion.warm.toFixed(1)} ms; ${completion.entries} entries`);
  // tsc's own check time is the steadier figure on a shared machine (wall time includes start-up).
  const checkRatio = withFile.check / without.check;
  record({ section: 'types', target: 'tsc check time with the generated file <= 1.50x without', measured: `${checkRatio.toFixed(2)}x`, ok: checkRatio <= 1.5 });
  record({ section: 'types', target: 'editor completion (warm) <= 250 ms', measured: `${completion.warm.toFixed(0)} ms`, ok: completion.warm <= 250 });
} finally {
  rmSync(folder, { recursive: true, force: true });
}

/** Completion requests after `services.service25.` in the consumer, with the generated file. */
function completionTimes(folder, common) {
  const ts = createRequire(import.meta.url)('typescript');
  const file = join(folder, 'editing.ts');
  const text = `${readFileSync(join(folder, 'consumer.ts'), 'utf8')}\nvoid services.service25.`;
  writeFileSync(file, text);
  const { options } = ts.convertCompilerOptionsFromJson(common, folder);
  const names = [file, join(folder, 'services.d.ts')];
  const service = ts.createLanguageService({
    getScriptFileNames: () => names,
    getScriptVersion: () => '1',
    getScriptSnapshot: (name) => (ts.sys.fileExists(name) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(name)) : undefined),
    getCurrentDirectory: () => folder,
    getCompilationSettings: () => options,
    getDefaultLibFileName: (settings) => ts.getDefaultLibFilePath(settings),
    fileExists: ts.sys.fileExists,
    readFile: ts.sys.readFile,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  });
  const ask = () => {
    const started = performance.now();
    const list = service.getCompletionsAtPosition(file, text.length, { includeCompletionsWithInsertText: true });
    return { ms: performance.now() - started, entries: list?.entries.length ?? 0 };
  };
  const first = ask();
  const warm = [];
  for (let round = 0; round < ROUNDS; round++) warm.push(ask().ms);
  service.dispose();
  if (first.entries !== ROUTES + 1) throw new Error(`expected ${ROUTES + 1} completions (calls and $call), got ${first.entries}`);
  return { first: first.ms, warm: median(warm), entries: first.entries };
}
