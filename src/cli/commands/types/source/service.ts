/**
 * Which app is the service: the one given to `expressMicro(app, { serviceName })`, preferably in
 * the `--app` file itself, and the service's name when it is a literal there.
 */
import type * as TS from 'typescript';
import type { Source } from './syntax.ts';

/** The app variable and the `serviceName` literal, if there is one. */
export interface ServiceCall {
  readonly app: TS.Symbol;
  readonly name: string | undefined;
  /** The `expressMicro(app, …)` call itself: what it returns is the service's handle (`micro`). */
  readonly call: TS.CallExpression;
}

/**
 * Finds the service among `calls` (those of the files `root` reaches). Throws a plain Error with a
 * message for the user when there is none, or several with different apps.
 */
export function findServiceCall(source: Source, calls: readonly TS.CallExpression[], root: TS.SourceFile): ServiceCall {
  const { ts, checker, strip } = source;

  /** `expressMicro(…)`, or the function imported from express-micro under another name. */
  function isExpressMicroCall(call: TS.CallExpression): boolean {
    const callee = strip(call.expression);
    const name = ts.isIdentifier(callee) ? callee : ts.isPropertyAccessExpression(callee) ? callee.name : undefined;
    if (name === undefined) return false;
    if (name.text === 'expressMicro') return true;
    let node: TS.Node | undefined = checker.getSymbolAtLocation(name)?.declarations?.[0];
    while (node !== undefined && !ts.isImportDeclaration(node) && !ts.isVariableDeclaration(node)) node = node.parent;
    if (node === undefined) return false;
    // import micro from 'express-micro' / const micro = require('express-micro')
    const specifier = ts.isImportDeclaration(node) ? node.moduleSpecifier : node.initializer !== undefined && ts.isCallExpression(node.initializer) ? node.initializer.arguments[0] : undefined;
    return specifier !== undefined && ts.isStringLiteral(specifier) && /(^|[/:@])express-micro(@[^/]*)?$/.test(specifier.text);
  }

  function serviceNameOf(options: TS.Expression | undefined, hops = 0): string | undefined {
    if (options === undefined || hops > 4) return undefined;
    const node = strip(options);
    if (ts.isObjectLiteralExpression(node)) {
      // `{ serviceName: 'user-service', ...options }`: the literal, whatever else is spread in.
      for (const property of node.properties) {
        if (property.name === undefined || !ts.isIdentifier(property.name) || property.name.text !== 'serviceName') continue;
        if (ts.isPropertyAssignment(property)) return source.stringValue(property.initializer);
        if (ts.isShorthandPropertyAssignment(property)) return source.stringValue(property.name);
      }
      return undefined;
    }
    if (ts.isIdentifier(node)) {
      const declaration = source.symbolOf(node)?.valueDeclaration;
      if (declaration !== undefined && ts.isVariableDeclaration(declaration) && declaration.initializer !== undefined) return serviceNameOf(declaration.initializer, hops + 1);
    }
    const property = checker.getPropertyOfType(checker.getTypeAtLocation(node), 'serviceName');
    if (property === undefined) return undefined;
    const type = checker.getTypeOfSymbolAtLocation(property, node);
    return type.isStringLiteral() ? type.value : undefined;
  }

  const micro = calls.filter((call) => call.arguments.length >= 1 && isExpressMicroCall(call));
  const inRoot = micro.filter((call) => call.getSourceFile() === root);
  const chosen = inRoot.length > 0 ? inRoot : micro;
  if (chosen.length === 0) throw new Error('no expressMicro(app, …) call found: the app given to it is the service this command reads');
  const apps = [...new Set(chosen.map((call) => source.symbolOf(call.arguments[0] as TS.Expression)).filter((symbol) => symbol !== undefined))];
  if (apps.length === 0) throw new Error('expressMicro() is not given an app variable this command can follow');
  if (apps.length > 1) throw new Error(`several expressMicro(app, …) calls with different apps (${apps.map((app) => app.getName()).join(', ')}): give each service's own file`);
  const app = apps[0] as TS.Symbol;
  const call = chosen.find((candidate) => source.symbolOf(candidate.arguments[0] as TS.Expression) === app) as TS.CallExpression;
  return { app, name: serviceNameOf(call.arguments[1]), call };
}
