/**
 * What the source says about a handler expression: the name its function will have at run time
 * (which the running service publishes as a call name: `function getUser`, `const getUser =
 * (req, res) => …`, a method `getUser() {}`, `getUser.bind(x)` → `bound getUser`), and the
 * function itself, whose body the answer is read from.
 */
import type * as TS from 'typescript';
import type { Source } from './syntax.ts';

/** Reads handler expressions of one program. */
export interface HandlerReader {
  /** The run-time `name` of the function the expression evaluates to, if the source shows it. */
  nameOf(expression: TS.Expression): string | undefined;
  /** The function the expression evaluates to, or the one a wrapper (`asyncHandler(fn)`) is given. */
  functionOf(expression: TS.Expression): TS.SignatureDeclaration | undefined;
  /**
   * What stands for the function object the expression evaluates to, alike for two expressions
   * that give the same object at run time: a name's declaration (`getItem` registered twice), else
   * the expression itself (an inline function, a `wrap(fn)` or `fn.bind(x)` made per registration).
   */
  identityOf(expression: TS.Expression): TS.Node;
}

const MAX_HOPS = 8;

/** A handler reader for one program. */
export function handlerReader(source: Source): HandlerReader {
  const { ts, strip, declarationOf } = source;

  const isBind = (expression: TS.Expression): expression is TS.CallExpression =>
    ts.isCallExpression(expression) && ts.isPropertyAccessExpression(expression.expression) && expression.expression.name.text === 'bind';

  function nameOf(expression: TS.Expression, hops = 0): string | undefined {
    if (hops > MAX_HOPS) return undefined;
    const node = strip(expression);
    if (ts.isFunctionExpression(node) || ts.isClassExpression(node)) return node.name?.text;
    if (ts.isArrowFunction(node)) return undefined;
    if (isBind(node)) {
      const target = nameOf((node.expression as TS.PropertyAccessExpression).expression, hops + 1);
      return target === undefined ? undefined : `bound ${target}`;
    }
    if (!ts.isIdentifier(node) && !ts.isPropertyAccessExpression(node)) return undefined;
    const declaration = declarationOf(node);
    if (declaration === undefined) return undefined;
    if (ts.isFunctionDeclaration(declaration)) return declaration.name?.text ?? 'default';
    if (ts.isMethodDeclaration(declaration)) return ts.isIdentifier(declaration.name) ? declaration.name.text : undefined;
    if (ts.isExportAssignment(declaration)) {
      // `export default (req, res) => …`: an anonymous default export is named `default`.
      const exported = strip(declaration.expression);
      return ts.isArrowFunction(exported) || (ts.isFunctionExpression(exported) && exported.name === undefined) ? 'default' : nameOf(exported, hops + 1);
    }
    if (ts.isVariableDeclaration(declaration) || ts.isPropertyAssignment(declaration) || ts.isPropertyDeclaration(declaration)) {
      const initializer = declaration.initializer === undefined ? undefined : strip(declaration.initializer);
      if (initializer === undefined || !ts.isIdentifier(declaration.name)) return undefined;
      // An anonymous function takes the name of what it is assigned to.
      if (ts.isArrowFunction(initializer) || (ts.isFunctionExpression(initializer) && initializer.name === undefined)) return declaration.name.text;
      return nameOf(initializer, hops + 1);
    }
    return undefined;
  }

  function functionOf(expression: TS.Expression, hops = 0): TS.SignatureDeclaration | undefined {
    if (hops > MAX_HOPS) return undefined;
    const node = strip(expression);
    if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) return node;
    if (isBind(node)) return functionOf((node.expression as TS.PropertyAccessExpression).expression, hops + 1);
    if (ts.isCallExpression(node)) {
      // A wrapper such as asyncHandler(fn): the answer is the wrapped function's.
      for (const argument of node.arguments) {
        const found = functionOf(argument, hops + 1);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (!ts.isIdentifier(node) && !ts.isPropertyAccessExpression(node)) return undefined;
    const declaration = declarationOf(node);
    if (declaration === undefined) return undefined;
    if (ts.isFunctionDeclaration(declaration) || ts.isMethodDeclaration(declaration)) return declaration;
    if (ts.isExportAssignment(declaration)) return functionOf(declaration.expression, hops + 1);
    if ((ts.isVariableDeclaration(declaration) || ts.isPropertyAssignment(declaration) || ts.isPropertyDeclaration(declaration)) && declaration.initializer !== undefined) {
      return functionOf(declaration.initializer, hops + 1);
    }
    return undefined;
  }

  function identityOf(expression: TS.Expression): TS.Node {
    const node = strip(expression);
    return ts.isIdentifier(node) || ts.isPropertyAccessExpression(node) ? (declarationOf(node) ?? node) : node;
  }

  return { nameOf: (expression) => nameOf(expression), functionOf: (expression) => functionOf(expression), identityOf };
}
