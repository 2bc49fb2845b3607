/**
 * Checks the fenced code blocks of README.md and docs/*.md (the rules are in docs/development.md,
 * "Code blocks in README and docs"):
 *
 * - `ts`/`js` blocks are type-checked against the package's public types (`express-micro` mapped
 *   to src/index.ts) in one TypeScript program; `group=NAME` blocks of one file (those that augment
 *   `express-micro`'s registry) in one program per group. Lines the text shows failing (`// compile
 *   error`, or a quoted compiler message) must fail, with that message.
 * - `sh`/`bash` blocks name only commands that exist: npm scripts, the `express-micro` bin's
 *   commands and their flags, files under scripts/ (and the parts or stages they accept), the
 *   runtimes, and a short list of outside tools.
 * - `json` blocks parse. Output (`text`, or no language) needs `output`; anything else that cannot
 *   be checked needs `unchecked="the reason"`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { COMMANDS } from '../../src/cli/commands/index.ts';
import type { CodeBlock } from './markdown.ts';
import { ROOT } from './markdown.ts';

/** One thing wrong with one block. */
export interface Problem {
  /** `file:line` of the block's opening fence, or of the line the problem is on. */
  readonly where: string;
  readonly message: string;
}

const TYPESCRIPT = new Set(['ts', 'typescript', 'js', 'javascript']);
const SHELL = new Set(['sh', 'bash', 'shell']);
/** A reason to leave a block unchecked says something: at least this many characters. */
const MIN_REASON = 10;

/**
 * Names the examples use without defining them, as a reader would have them: the app, the handle,
 * its proxy, and the few values an example passes along.
 */
const PRELUDE = `import type { ExpressMicro, ExpressMicroOptions, Services } from 'express-micro';
import type expressMicroFunction from 'express-micro';
declare global {
  const express: typeof import('express');
  const expressMicro: typeof expressMicroFunction;
  const app: import('express').Express;
  const micro: ExpressMicro;
  const services: Services;
  const options: ExpressMicroOptions;
  const signal: AbortSignal;
  const id: string;
  const ca: string;
  const cert: string;
  const key: string;
  const db: { find<T>(id: string): Promise<T> };
  interface User { id: string; name: string }
  // The Node helpers docs/bodies.md's examples lean on (files and streams).
  const readFile: typeof import('node:fs/promises').readFile;
  const writeFile: typeof import('node:fs/promises').writeFile;
  const createReadStream: typeof import('node:fs').createReadStream;
  const createWriteStream: typeof import('node:fs').createWriteStream;
  const pipeline: typeof import('node:stream/promises').pipeline;
  const Readable: typeof import('node:stream').Readable;
  type NodeReadableStream<T> = import('node:stream/web').ReadableStream<T>;
}
export {};
`;

/** Outside tools a shell block may name: the reader's own, not this package's. */
const OUTSIDE_TOOLS = new Set(['curl', 'git', 'echo', 'kill', 'pm2', 'tee', 'sleep', 'export', 'cd', 'cat', 'openssl', 'docker', 'kubectl']);

/** Starts of TypeScript's messages, as the docs quote them after a line that does not compile. */
const QUOTED_DIAGNOSTIC = /^(compile error|Property '|No overload matches|Argument of type '|Type '|Cannot find name '|Object literal may only|Expected \d+ arguments?)/;

/** Every problem in the given blocks. */
export function checkBlocks(blocks: readonly CodeBlock[]): Problem[] {
  const problems: Problem[] = [];
  const typescriptBlocks: CodeBlock[] = [];
  for (const block of blocks) {
    const where = `${block.file}:${block.line}`;
    const reason = block.attributes.get('unchecked');
    if (reason !== undefined) {
      if (reason.trim().length < MIN_REASON) problems.push({ where, message: 'unchecked="…" needs a reason (why this block cannot be checked)' });
      continue;
    }
    if (TYPESCRIPT.has(block.language)) typescriptBlocks.push(block);
    else if (SHELL.has(block.language)) problems.push(...checkShell(block));
    else if (block.language === 'json') {
      try {
        JSON.parse(block.code);
      } catch (error) {
        problems.push({ where, message: `not JSON: ${(error as Error).message}` });
      }
    } else if (block.language === '' || block.language === 'text') {
      // docs/ARCHITECTURE.md stays as it is (issue 28): its unmarked blocks are diagrams.
      const diagram = block.file === 'docs/ARCHITECTURE.md' && block.language === '';
      if (!block.attributes.has('output') && !diagram) {
        problems.push({ where, message: 'a block with no language (or text) must be marked as output: ```text output; or give it a language that is checked, or unchecked="why"' });
      }
    } else {
      problems.push({ where, message: `blocks in ${block.language} are not checked: mark it unchecked="why", or write it as ts, js, sh, json or text output` });
    }
  }
  problems.push(...checkTypeScript(typescriptBlocks));
  return problems;
}

// ---------------------------------------------------------------------------------------------
// TypeScript

interface Snippet {
  readonly block: CodeBlock;
  /** The virtual file it is compiled as. */
  readonly path: string;
  readonly text: string;
  /** Lines of `text` before the block's first line (a wrapper). */
  readonly offset: number;
  /** The block's first line within the block (0, or the line of a `lines` snippet). */
  readonly firstLine: number;
  /** Block line (0-based) → the message expected there ('' for any error). */
  readonly expected: ReadonlyMap<number, string>;
}

const VIRTUAL = join(ROOT, 'test', '.doc-blocks');

/**
 * A reader copies `const x = require('m')` into CommonJS; the check compiles ES modules, so a
 * top-level require becomes the import that gives the same value (`esModuleInterop`).
 */
function requiresToImports(code: string): string {
  return code.replace(/^const (\w+|\{[^}]*\}) = require\(('[^']+'|"[^"]+")\);?/gm, (_, binding: string, module: string) => `import ${binding} from ${module};`);
}

/** The compiler messages a block's comments say its lines produce. */
function expectedErrors(code: string): Map<number, string> {
  const expected = new Map<number, string>();
  const lines = code.split('\n');
  let lastCode = -1;
  lines.forEach((line, index) => {
    const whole = /^\s*\/\/\s?(.*)$/.exec(line);
    if (whole) {
      if (lastCode >= 0 && QUOTED_DIAGNOSTIC.test(whole[1]!)) expected.set(lastCode, whole[1]!);
      return;
    }
    if (line.trim() === '') return;
    lastCode = index;
    const trailing = /\/\/\s?(.*)$/.exec(line.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`/g, (s) => ' '.repeat(s.length)));
    if (trailing && QUOTED_DIAGNOSTIC.test(trailing[1]!)) expected.set(index, line.slice(line.length - trailing[1]!.length));
  });
  return expected;
}

/** The parts of a quoted message that the compiler's own must contain. */
function quotedParts(quote: string): string[] {
  if (quote.startsWith('compile error')) return [];
  return quote
    .split('…')
    .map((part) => part.trim())
    .map((part) => {
      const end = part.indexOf("': ");
      return end >= 0 ? part.slice(0, end + 1) : part;
    })
    .map((part) => part.replace(/[.\s]+$/, ''))
    .filter((part) => part !== '');
}

function snippetsOf(block: CodeBlock, index: number): Snippet[] {
  const name = `${block.file.replace(/[^\w]/g, '_')}_${block.line}_${index}`;
  const parts = block.attributes.has('lines')
    ? block.code.split('\n').flatMap((line, at) => (line.trim() === '' || line.trim().startsWith('//') ? [] : [{ code: line, firstLine: at }]))
    : [{ code: block.code, firstLine: 0 }];
  return parts.map(({ code, firstLine }, part) => {
    const source = requiresToImports(code);
    const isModule = /^(import|export)\b|^declare module\b/m.test(source);
    // A module stays as written (imports, augmentations); anything else is a function body, so that
    // `return` and `await` read as they would inside a route handler.
    const prefix = isModule ? '' : 'export {};\nasync function block() {\n';
    const suffix = isModule ? '\nexport {};\n' : '\n}\n';
    return {
      block,
      path: join(VIRTUAL, `${name}_${part}.ts`),
      text: prefix + source + suffix,
      offset: prefix.split('\n').length - 1,
      firstLine,
      expected: expectedErrors(code),
    };
  });
}

function compilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  return {
    ...parsed.options,
    noEmit: true,
    declaration: false,
    isolatedDeclarations: false,
    // Read as a reader's strict project reads them; this flag is the library's own choice.
    noUncheckedIndexedAccess: false,
    baseUrl: ROOT,
    paths: {
      'express-micro': ['src/index.ts'],
      'jsr:@x/express-micro': ['src/index.ts'],
      'npm:express@5': ['node_modules/@types/express/index.d.ts'],
    },
  };
}

/** One program for every block without a group, one per (file, group). */
function checkTypeScript(blocks: readonly CodeBlock[]): Problem[] {
  const problems: Problem[] = [];
  const programs = new Map<string, Snippet[]>();
  blocks.forEach((block, index) => {
    const group = block.attributes.get('group');
    if (group === undefined && /^declare module\b/m.test(block.code)) {
      problems.push({ where: `${block.file}:${block.line}`, message: "a block that augments a module changes every other block's types: give it group=NAME (its own program)" });
      return;
    }
    const key = group === undefined ? '' : `${block.file}#${group}`;
    programs.set(key, [...(programs.get(key) ?? []), ...snippetsOf(block, index)]);
  });
  const options = compilerOptions();
  const cache = new Map<string, ts.SourceFile | undefined>();
  const prelude = join(VIRTUAL, 'prelude.d.ts');
  let previous: ts.Program | undefined;
  for (const snippets of programs.values()) {
    const virtual = new Map<string, string>([[prelude, PRELUDE], ...snippets.map((snippet): [string, string] => [snippet.path, snippet.text])]);
    const host = ts.createCompilerHost(options, true);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (path, language) => {
      const text = virtual.get(path);
      if (text !== undefined) return ts.createSourceFile(path, text, language, true);
      if (!cache.has(path)) cache.set(path, getSourceFile(path, language));
      return cache.get(path);
    };
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (path) => virtual.has(path) || fileExists(path);
    const readFile = host.readFile.bind(host);
    host.readFile = (path) => virtual.get(path) ?? readFile(path);
    const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host, ...(previous ? { oldProgram: previous } : {}) });
    previous = program;
    for (const snippet of snippets) problems.push(...snippetProblems(program, snippet));
  }
  return problems;
}

function snippetProblems(program: ts.Program, snippet: Snippet): Problem[] {
  const source = program.getSourceFile(snippet.path)!;
  const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  const problems: Problem[] = [];
  const seen = new Map<number, string[]>();
  for (const diagnostic of diagnostics) {
    const line = diagnostic.start === undefined ? 0 : source.getLineAndCharacterOfPosition(diagnostic.start).line - snippet.offset;
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ').replace(/\s+/g, ' ');
    if (snippet.expected.has(line)) {
      seen.set(line, [...(seen.get(line) ?? []), message]);
      continue;
    }
    problems.push({ where: `${snippet.block.file}:${snippet.block.line + 1 + snippet.firstLine + line}`, message: `does not compile: ${message}` });
  }
  for (const [line, quote] of snippet.expected) {
    const where = `${snippet.block.file}:${snippet.block.line + 1 + snippet.firstLine + line}`;
    const messages = seen.get(line);
    if (messages === undefined) {
      problems.push({ where, message: `the text says this line does not compile ("${quote}"), but it does` });
      continue;
    }
    for (const part of quotedParts(quote)) {
      if (!messages.some((message) => message.includes(part.replace(/\s+/g, ' ')))) {
        problems.push({ where, message: `the compiler says ${JSON.stringify(messages.join(' | '))}, not "${part}"` });
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Shell

/** The words of each command in a shell text: quotes, `\` continuations and comments handled. */
export function shellCommands(text: string): Array<{ words: string[]; line: number }> {
  const commands: Array<{ words: string[]; line: number }> = [];
  let words: string[] = [];
  let word: string | undefined;
  let line = 0;
  let start = 0;
  const end = () => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const finish = () => {
    end();
    if (words.length > 0) commands.push({ words, line: start });
    words = [];
  };
  for (let at = 0; at < text.length; at++) {
    const char = text[at]!;
    if (word === undefined && words.length === 0 && char !== ' ' && char !== '\t' && char !== '\n') start = line;
    if (char === '\\' && text[at + 1] === '\n') {
      at++;
      line++;
    } else if (char === "'" || char === '"') {
      const close = text.indexOf(char, at + 1);
      const quoted = text.slice(at + 1, close < 0 ? text.length : close);
      line += quoted.split('\n').length - 1;
      word = (word ?? '') + quoted;
      at = close < 0 ? text.length : close;
    } else if (char === '#' && word === undefined) {
      const newline = text.indexOf('\n', at);
      at = (newline < 0 ? text.length : newline) - 1;
    } else if (char === '\n' || char === ';') {
      finish();
      if (char === '\n') line++;
    } else if (char === '&' || char === '|') {
      finish();
      if (text[at + 1] === char) at++;
    } else if (char === ' ' || char === '\t') {
      end();
    } else if (char === '>' || char === '<') {
      end();
      words.push(char); // a redirection: the next word is a file, not an argument
    } else {
      word = (word ?? '') + char;
    }
  }
  finish();
  return commands;
}

const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

/** The values a script under scripts/ accepts as arguments, read from the script itself. */
function scriptArguments(script: string): Set<string> | undefined {
  const text = readFileSync(join(ROOT, script), 'utf8');
  if (script === 'scripts/bench') return new Set(/unknown part '\$arg' \(([^)]*)\)/.exec(text)?.[1]?.split(/,\s*/));
  if (script === 'scripts/test-all') return new Set(/^ORDER=\(([^)]*)\)/m.exec(text)?.[1]?.split(/\s+/));
  return undefined;
}

function checkExpressMicro(args: readonly string[]): string | undefined {
  const [name, ...rest] = args.filter((arg) => arg !== '<' && arg !== '>');
  if (name === undefined || name === '--help' || name === '-h') return undefined;
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) return `express-micro has no command "${name}" (it has ${COMMANDS.map((c) => c.name).join(', ')})`;
  for (const arg of rest) {
    const flag = /^(--[\w-]+)/.exec(arg)?.[1];
    if (flag === undefined || flag === '--help') continue;
    if (!new RegExp(`(^|[\\s\\[(])${flag}(?![\\w-])`).test(command.help)) return `express-micro ${name} has no option ${flag}`;
  }
  return undefined;
}

function checkCommand(words: readonly string[]): string | undefined {
  let at = 0;
  while (at < words.length && /^[A-Za-z_]\w*=/.test(words[at]!)) at++; // VAR=value before the command
  const [command, ...args] = words.slice(at);
  if (command === undefined) return undefined;
  const bin = args.findIndex((arg) => arg === 'express-micro' || arg === 'npm:express-micro' || arg === 'jsr:@x/express-micro');
  switch (command) {
    case 'npm': {
      const [sub, script] = args;
      if (sub === 'install' || sub === 'i' || sub === 'ci' || sub === 'pack') return undefined;
      if (sub === 'test') return 'test' in PACKAGE.scripts ? undefined : 'package.json has no test script';
      if (sub === 'run') return script !== undefined && script in PACKAGE.scripts ? undefined : `package.json has no script "${script}"`;
      return `npm ${sub}: not a command the docs use (install, ci, pack, test, run)`;
    }
    case 'npx':
    case 'bunx': {
      const first = args.find((arg) => !arg.startsWith('-'));
      if (first === 'express-micro') return checkExpressMicro(args.slice(args.indexOf(first) + 1));
      return first !== undefined && existsSync(join(ROOT, 'node_modules', '.bin', first)) ? undefined : `${command} ${first}: no such bin in node_modules/.bin`;
    }
    case 'deno': // deno run npm:express-micro <command>; deno add, deno test: the runtime's own
      return args[0] === 'run' && bin >= 0 ? checkExpressMicro(args.slice(bin + 1)) : undefined;
    case 'bun': // bun x express-micro <command>; bun add, bun test
      return args[0] === 'x' && bin >= 0 ? checkExpressMicro(args.slice(bin + 1)) : undefined;
    case 'node':
    case 'bash': {
      const file = args.find((arg) => !arg.startsWith('-'));
      if (file === undefined || !/^(\.\/)?(scripts|examples|test)\//.test(file)) return undefined; // the reader's own file, or -e
      return checkScript(file.replace(/^\.\//, ''), args.slice(args.indexOf(file) + 1));
    }
    default:
      if (/^(\.\/)?scripts\//.test(command)) return checkScript(command.replace(/^\.\//, ''), args);
      return OUTSIDE_TOOLS.has(command) ? undefined : `"${command}" is neither a command of this project nor one of the outside tools the docs may name (${[...OUTSIDE_TOOLS].join(', ')})`;
  }
}

function checkScript(script: string, args: readonly string[]): string | undefined {
  if (!existsSync(join(ROOT, script))) return `no such file: ${script}`;
  const accepted = scriptArguments(script);
  const unknown = accepted && args.find((arg) => !arg.startsWith('-') && !accepted.has(arg));
  return unknown ? `${script} does not take "${unknown}" (it takes ${[...accepted!].join(', ')})` : undefined;
}

function checkShell(block: CodeBlock): Problem[] {
  const problems: Problem[] = [];
  for (const { words, line } of shellCommands(block.code)) {
    const message = checkCommand(words);
    if (message !== undefined) problems.push({ where: `${block.file}:${block.line + 1 + line}`, message });
  }
  return problems;
}
