/**
 * Shared by the `express-micro types` tests: running the command in-process (its real code,
 * given an output buffer instead of the process's streams), a temp folder inside the repo (so
 * consumers resolve `express` and `@types` from node_modules), and compiling consumer files with
 * the TypeScript compiler against a generated file and the library's source.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../cli/support.ts';

// Running the command in-process and the temp folder are the command-line tests' own (test/cli).
export { ROOT, runCli, tempFolder, type CliRun } from '../cli/support.ts';

/** One diagnostic, flattened to one string, at a 1-based line of a file. */
export interface Diagnostic {
  file: string;
  line: number;
  code: number;
  message: string;
}

// Parsed declaration files (lib, @types, express) are shared by every program of the run: they
// are most of the work of a compile.
const cache = new Map<string, ts.SourceFile | undefined>();

/**
 * Compiles `files` (name → text, written to `folder`) as one program, strict, against the
 * library's source (`express-micro` → src/index.ts), and returns every diagnostic. The generated
 * declaration file is one of `files`, as in a user's project.
 */
export function compile(folder: string, files: Record<string, string>, extra: ts.CompilerOptions = {}): Diagnostic[] {
  const names = write(folder, files);
  const options = compilerOptions(extra);
  const base = ts.createCompilerHost(options, true);
  const host: ts.CompilerHost = {
    ...base,
    getSourceFile(fileName, version, onError, create) {
      if (fileName.startsWith(folder)) return base.getSourceFile(fileName, version, onError, create);
      const key = `${JSON.stringify(version)}|${fileName}`;
      if (!cache.has(key)) cache.set(key, base.getSourceFile(fileName, version, onError, create));
      return cache.get(key);
    },
  };
  const program = ts.createProgram({ rootNames: names, options, host });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const file = diagnostic.file;
    const line = file !== undefined && diagnostic.start !== undefined ? file.getLineAndCharacterOfPosition(diagnostic.start).line + 1 : 0;
    return {
      file: file === undefined ? '' : file.fileName.slice(folder.length + 1),
      line,
      code: diagnostic.code,
      message: ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
    };
  });
}

function write(folder: string, files: Record<string, string>): string[] {
  return Object.entries(files).map(([name, text]) => {
    const path = join(folder, name);
    writeFileSync(path, text);
    return path;
  });
}

function compilerOptions(extra: ts.CompilerOptions): ts.CompilerOptions {
  return {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    allowImportingTsExtensions: true,
    types: ['node'],
    paths: { 'express-micro': [join(ROOT, 'src/index.ts')] },
    ...extra,
  };
}

/**
 * What an editor offers after the `$` in `file` (which must hold one `$`): the names of a
 * completion list, from TypeScript's language service, the one editors use.
 */
export function completions(folder: string, files: Record<string, string>, file: string): string[] {
  const text = files[file] as string;
  const position = text.indexOf('$');
  const written = { ...files, [file]: text.slice(0, position) + text.slice(position + 1) };
  const names = write(folder, written);
  const options = compilerOptions({});
  const host: ts.LanguageServiceHost = {
    getScriptFileNames: () => names,
    getScriptVersion: () => '1',
    getScriptSnapshot: (name) => {
      const content = ts.sys.readFile(name);
      return content === undefined ? undefined : ts.ScriptSnapshot.fromString(content);
    },
    getCurrentDirectory: () => folder,
    getCompilationSettings: () => options,
    getDefaultLibFileName: (settings) => ts.getDefaultLibFilePath(settings),
    fileExists: ts.sys.fileExists,
    readFile: ts.sys.readFile,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  const service = ts.createLanguageService(host);
  try {
    // As VS Code asks: it then also offers keys that are not identifiers (`['user-service']`).
    const list = service.getCompletionsAtPosition(join(folder, file), position, { includeCompletionsWithInsertText: true });
    return (list?.entries ?? []).map((entry) => entry.name);
  } finally {
    service.dispose();
  }
}

/**
 * The diagnostics a consumer file asks for: a line ending in `// error: <text>` must get a
 * diagnostic containing <text>; every other line must get none.
 */
export function expectedErrors(text: string): { line: number; text: string }[] {
  return text.split('\n').flatMap((line, index) => {
    const match = /\/\/ error: (.+)$/.exec(line);
    return match === null ? [] : [{ line: index + 1, text: (match[1] as string).trim() }];
  });
}

/** Matches diagnostics against `// error:` marks: what is missing, and what came unasked. */
export function compare(files: Record<string, string>, diagnostics: Diagnostic[]): { missing: string[]; unexpected: string[] } {
  const missing: string[] = [];
  const unexpected: string[] = [];
  const used = new Set<Diagnostic>();
  for (const [name, text] of Object.entries(files)) {
    for (const expected of expectedErrors(text)) {
      const found = diagnostics.find((diagnostic) => diagnostic.file === name && diagnostic.line === expected.line && diagnostic.message.includes(expected.text));
      if (found === undefined) missing.push(`${name}:${expected.line}: expected an error containing ${JSON.stringify(expected.text)}; got ${JSON.stringify(diagnostics.filter((d) => d.file === name && d.line === expected.line).map((d) => d.message))}`);
      else used.add(found);
    }
  }
  for (const diagnostic of diagnostics) {
    const marked = Object.hasOwn(files, diagnostic.file) && expectedErrors(files[diagnostic.file] as string).some((expected) => expected.line === diagnostic.line);
    if (!used.has(diagnostic) && !marked) unexpected.push(`${diagnostic.file}:${diagnostic.line}: TS${diagnostic.code} ${diagnostic.message}`);
  }
  return { missing, unexpected };
}
