/**
 * What every reader of a service's source shares: the compiler, its checker, the symbols
 * parameters stand for (`function userRoutes(router)` called with a known router), and the
 * warnings about what cannot be followed.
 */
import type * as TS from 'typescript';
import type { TypeScript } from './typescript.ts';

/** Something the source does that this command cannot follow, with where it is. */
export interface SourceWarning {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** The compiler, the checker and the helpers the readers share, for one program. */
export interface Source {
  readonly ts: TypeScript;
  readonly checker: TS.TypeChecker;
  readonly warnings: SourceWarning[];
  /** The expression without parentheses, `as`, `satisfies`, `<T>` and `!`. */
  strip(expression: TS.Expression): TS.Expression;
  /** The symbol of an identifier, through imports and through parameters bound by {@link bind}. */
  symbolOf(expression: TS.Expression): TS.Symbol | undefined;
  /** The declaration an identifier or property access refers to, through imports. */
  declarationOf(expression: TS.Expression): TS.Declaration | undefined;
  /** Says that `parameter` stands for `target`; whether that is new. */
  bind(parameter: TS.Symbol, target: TS.Symbol): boolean;
  /** A string literal, or an expression whose type is one. */
  stringValue(expression: TS.Expression | undefined): string | undefined;
  /** Records a warning at `node`. */
  warn(node: TS.Node, message: string): void;
}

/** The shared helpers for one program's checker. */
export function source(ts: TypeScript, checker: TS.TypeChecker): Source {
  const bound = new Map<TS.Symbol, TS.Symbol>();
  const warnings: SourceWarning[] = [];

  const strip = (expression: TS.Expression): TS.Expression => {
    let current = expression;
    while (ts.isParenthesizedExpression(current) || ts.isAsExpression(current) || ts.isSatisfiesExpression(current) || ts.isNonNullExpression(current) || ts.isTypeAssertionExpression(current)) {
      current = current.expression;
    }
    return current;
  };

  const resolved = (node: TS.Node): TS.Symbol | undefined => {
    const symbol = checker.getSymbolAtLocation(node);
    return symbol !== undefined && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  };

  return {
    ts,
    checker,
    warnings,
    strip,
    symbolOf(expression) {
      const node = strip(expression);
      if (!ts.isIdentifier(node)) return undefined;
      const symbol = resolved(node);
      return symbol === undefined ? undefined : (bound.get(symbol) ?? symbol);
    },
    declarationOf(expression) {
      const node = strip(expression);
      if (!ts.isIdentifier(node) && !ts.isPropertyAccessExpression(node)) return undefined;
      const symbol = resolved(ts.isPropertyAccessExpression(node) ? node.name : node);
      const declaration = symbol?.valueDeclaration ?? symbol?.declarations?.[0];
      if (declaration !== undefined && ts.isShorthandPropertyAssignment(declaration)) return checker.getShorthandAssignmentValueSymbol(declaration)?.valueDeclaration;
      return declaration;
    },
    bind(parameter, target) {
      if (bound.get(parameter) === target) return false;
      bound.set(parameter, target);
      return true;
    },
    stringValue(expression) {
      if (expression === undefined) return undefined;
      const node = strip(expression);
      if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
      const type = checker.getTypeAtLocation(node);
      return type.isStringLiteral() ? type.value : undefined;
    },
    warn(node, message) {
      const file = node.getSourceFile();
      warnings.push({ file: file.fileName, line: file.getLineAndCharacterOfPosition(node.getStart()).line + 1, message });
    },
  };
}

/** Every call expression in `files`, inner calls before the calls they are part of (the order Express runs them in). */
export function callsIn(ts: TypeScript, files: readonly TS.SourceFile[]): TS.CallExpression[] {
  const calls: TS.CallExpression[] = [];
  const collect = (node: TS.Node): void => {
    ts.forEachChild(node, collect);
    if (ts.isCallExpression(node)) calls.push(node);
  };
  for (const file of files) collect(file);
  return calls;
}
