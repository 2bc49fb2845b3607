/**
 * Builds the TypeScript programs `--app` reads: each service's file as a root, with the compiler
 * options of the tsconfig.json nearest to it (so path aliases and types resolve as in the
 * project), or strict defaults without one.
 */
import type * as TS from 'typescript';
import type { TypeScript } from './typescript.ts';

function optionsFor(ts: TypeScript, file: string): TS.CompilerOptions {
  const fallback: TS.CompilerOptions = {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    esModuleInterop: true,
  };
  const configPath = ts.findConfigFile(file.replace(/[\\/][^\\/]*$/, ''), ts.sys.fileExists);
  let options = fallback;
  if (configPath !== undefined) {
    const read = ts.readConfigFile(configPath, ts.sys.readFile);
    if (read.error === undefined) {
      const folder = configPath.replace(/[\\/][^\\/]*$/, '');
      options = ts.parseJsonConfigFileContent(read.config, ts.sys, folder, undefined, configPath).options;
    }
  }
  // Only the checker's answers are wanted: nothing is emitted, JavaScript services are read too,
  // and declaration files are trusted rather than checked.
  return { ...options, noEmit: true, allowJs: true, checkJs: false, skipLibCheck: true, incremental: false, composite: false, declaration: false };
}

/**
 * One program per set of compiler options, rooted at every file that shares them: a monorepo's
 * services under one tsconfig are read by one checker (50 services: one program, not 50).
 * Returns each file's program.
 */
export function programsFor(ts: TypeScript, files: readonly string[]): Map<string, TS.Program> {
  const groups = new Map<string, { options: TS.CompilerOptions; files: string[] }>();
  for (const file of files) {
    const options = optionsFor(ts, file);
    const key = JSON.stringify(options);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { options, files: [file] });
    else group.files.push(file);
  }
  const programs = new Map<string, TS.Program>();
  for (const group of groups.values()) {
    const program = ts.createProgram({ rootNames: group.files, options: group.options });
    for (const file of group.files) programs.set(file, program);
  }
  return programs;
}

/**
 * The user's own files `root` reaches through imports, exports, `import()` and `require()`:
 * where its service, routers and handlers can be. Declaration files and node_modules are not.
 */
export function reachableFiles(ts: TypeScript, program: TS.Program, root: TS.SourceFile): TS.SourceFile[] {
  const checker = program.getTypeChecker();
  const own = (file: TS.SourceFile): boolean => !file.isDeclarationFile && !program.isSourceFileFromExternalLibrary(file) && !/[\\/]node_modules[\\/]/.test(file.fileName);
  const seen = new Set<TS.SourceFile>([root]);
  const queue = [root];
  const follow = (specifier: TS.Expression | undefined): void => {
    if (specifier === undefined || !ts.isStringLiteralLike(specifier)) return;
    const declaration = checker.getSymbolAtLocation(specifier)?.valueDeclaration;
    if (declaration !== undefined && ts.isSourceFile(declaration) && own(declaration) && !seen.has(declaration)) {
      seen.add(declaration);
      queue.push(declaration);
    }
  };
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    const visit = (node: TS.Node): void => {
      if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) follow(node.moduleSpecifier);
      else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) follow(node.moduleReference.expression);
      else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) follow(node.arguments[0]);
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return [...seen];
}
