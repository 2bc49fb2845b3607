/**
 * What the source registers on the app and its routers, in source order: routes
 * (`target.get(path, …handlers)`, `target.route(path).get(…)`, `.all()`) and mounted routers
 * (`target.use('/prefix', router)`). Routers are found from the app outwards: a variable made with
 * `Router()` that a known target mounts, a function that returns one, and parameters of functions
 * that a known target is passed to. Sub-apps are routers here too (`const v2 = express();
 * app.use('/v2', v2)`: a variable made by the call that made the app), as the running service
 * publishes their routes under the mount path.
 */
import type * as TS from 'typescript';
import type { Source } from './syntax.ts';

/** A route registration: `target.method(path, ...handlers)`. */
export interface RouteRegistration {
  readonly kind: 'route';
  /** Express's method key (`get`), or `_all` for `.all()`. */
  readonly method: string;
  readonly path: string | readonly string[];
  readonly handlers: readonly TS.Expression[];
}

/** A router mounted with `target.use(path, router)`. */
export interface MountRegistration {
  readonly kind: 'mount';
  readonly path: string | readonly string[];
  readonly child: TS.Symbol;
}

/** Either kind, in the order the source registers them on one target. */
export type Registration = RouteRegistration | MountRegistration;

const ROUTE_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'all']);
/** Rounds of growing the set of targets; each round follows one more level of routers or calls. */
const MAX_ROUNDS = 20;

/** The registrations of `app` and of every router reached from it, by target. */
export function collectRegistrations(source: Source, calls: readonly TS.CallExpression[], app: TS.Symbol): Map<TS.Symbol, Registration[]> {
  const { ts, checker, strip, symbolOf } = source;
  const targets = new Set<TS.Symbol>([app]);

  /** `express.Router()`, `Router()`, `new Router()`: a router, as opposed to a sub-app or a middleware. */
  function isRouterDeclaration(symbol: TS.Symbol): boolean {
    const declaration = symbol.valueDeclaration;
    if (declaration === undefined || !ts.isVariableDeclaration(declaration) || declaration.initializer === undefined) return false;
    const initializer = strip(declaration.initializer);
    if (!ts.isCallExpression(initializer) && !ts.isNewExpression(initializer)) return false;
    const callee = strip(initializer.expression);
    return (ts.isIdentifier(callee) && callee.text === 'Router') || (ts.isPropertyAccessExpression(callee) && callee.name.text === 'Router');
  }

  function functionOf(expression: TS.Expression): TS.SignatureDeclaration | undefined {
    const node = strip(expression);
    if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) return node;
    const declaration = source.declarationOf(node);
    if (declaration === undefined) return undefined;
    if (ts.isFunctionDeclaration(declaration) || ts.isMethodDeclaration(declaration)) return declaration;
    if (ts.isVariableDeclaration(declaration) && declaration.initializer !== undefined) {
      const initializer = strip(declaration.initializer);
      if (ts.isArrowFunction(initializer) || ts.isFunctionExpression(initializer)) return initializer;
    }
    return undefined;
  }

  /** The function that made the app (`express` in `const app = express()`), if the source shows it. */
  const appFactory = ((): TS.Symbol | undefined => {
    const declaration = app.valueDeclaration;
    if (declaration === undefined || !ts.isVariableDeclaration(declaration) || declaration.initializer === undefined) return undefined;
    const initializer = strip(declaration.initializer);
    return ts.isCallExpression(initializer) ? symbolOf(initializer.expression) : undefined;
  })();

  /** A sub-app: a variable made by the same call as the app (`const v2 = express()`). */
  function isSubAppDeclaration(symbol: TS.Symbol): boolean {
    const declaration = symbol.valueDeclaration;
    if (appFactory === undefined || declaration === undefined || !ts.isVariableDeclaration(declaration) || declaration.initializer === undefined) return false;
    const initializer = strip(declaration.initializer);
    return ts.isCallExpression(initializer) && symbolOf(initializer.expression) === appFactory;
  }

  /** The router an argument of `use()` is: a router variable, or what a function returns (`app.use(usersRouter())`). */
  function mountedRouter(argument: TS.Expression): TS.Symbol | undefined {
    const node = strip(argument);
    if (ts.isCallExpression(node)) {
      const body = (functionOf(node.expression) as { body?: TS.ConciseBody } | undefined)?.body;
      if (body === undefined) return undefined;
      if (!ts.isBlock(body)) return mountedRouter(body);
      let found: TS.Symbol | undefined;
      const visit = (child: TS.Node): void => {
        if (found !== undefined || ts.isFunctionLike(child)) return;
        if (ts.isReturnStatement(child) && child.expression !== undefined) found = mountedRouter(child.expression);
        else ts.forEachChild(child, visit);
      };
      ts.forEachChild(body, visit);
      return found;
    }
    const symbol = symbolOf(node);
    return symbol !== undefined && (targets.has(symbol) ? symbol !== app : isRouterDeclaration(symbol) || isSubAppDeclaration(symbol)) ? symbol : undefined;
  }

  function isPathArgument(argument: TS.Expression | undefined): boolean {
    if (argument === undefined) return false;
    const node = strip(argument);
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node) || ts.isArrayLiteralExpression(node) || ts.isRegularExpressionLiteral(node)) return true;
    return (checker.getTypeAtLocation(node).flags & ts.TypeFlags.StringLike) !== 0;
  }

  // Grow the set of targets until nothing new turns up: routers mounted on known targets, and
  // parameters of functions that known targets are passed to.
  for (let changed = true, round = 0; changed && round < MAX_ROUNDS; round++) {
    changed = false;
    for (const call of calls) {
      const callee = strip(call.expression);
      if (ts.isPropertyAccessExpression(callee) && callee.name.text === 'use') {
        const target = symbolOf(callee.expression);
        if (target !== undefined && targets.has(target)) {
          for (const argument of call.arguments.slice(isPathArgument(call.arguments[0]) ? 1 : 0)) {
            const router = mountedRouter(argument);
            if (router === undefined || targets.has(router)) continue;
            targets.add(router);
            changed = true;
          }
        }
      }
      const passes = call.arguments.some((argument) => {
        const symbol = symbolOf(argument);
        return symbol !== undefined && targets.has(symbol);
      });
      const declaration = passes ? functionOf(call.expression) : undefined;
      call.arguments.forEach((argument, index) => {
        const symbol = symbolOf(argument);
        const parameter = declaration?.parameters[index];
        if (symbol === undefined || !targets.has(symbol) || parameter === undefined || !ts.isIdentifier(parameter.name)) return;
        const parameterSymbol = checker.getSymbolAtLocation(parameter.name);
        if (parameterSymbol !== undefined && source.bind(parameterSymbol, symbol)) changed = true;
      });
    }
  }

  const registrations = new Map<TS.Symbol, Registration[]>();
  const register = (target: TS.Symbol, registration: Registration): void => {
    const list = registrations.get(target);
    if (list === undefined) registrations.set(target, [registration]);
    else list.push(registration);
  };

  function pathOf(argument: TS.Expression, call: TS.Node): string | readonly string[] | undefined {
    const node = strip(argument);
    if (ts.isArrayLiteralExpression(node)) {
      const paths = node.elements.map((element) => source.stringValue(element));
      if (paths.every((path) => path !== undefined)) return paths as string[];
    } else {
      const path = source.stringValue(node);
      if (path !== undefined) return path;
    }
    // A RegExp path is not published by the running service either: nothing to say.
    if (!ts.isRegularExpressionLiteral(node)) source.warn(call, `a path that is not a string literal (${node.getText().slice(0, 60)}): its route is left out`);
    return undefined;
  }

  /** For `target.route(path).get(…).post(…)`: the target and path at the root of the chain. */
  function routeChain(expression: TS.Expression): { target: TS.Symbol; path: TS.Expression } | undefined {
    let node = strip(expression);
    for (let hops = 0; hops < 16; hops++) {
      if (ts.isIdentifier(node)) {
        // `const route = app.route('/x'); route.get(…)`
        const declaration = checker.getSymbolAtLocation(node)?.valueDeclaration;
        if (declaration === undefined || !ts.isVariableDeclaration(declaration) || declaration.initializer === undefined) return undefined;
        node = strip(declaration.initializer);
        continue;
      }
      if (!ts.isCallExpression(node) || !ts.isPropertyAccessExpression(node.expression)) return undefined;
      const method = node.expression.name.text;
      if (method === 'route') {
        const target = symbolOf(node.expression.expression);
        const path = node.arguments[0];
        return target !== undefined && targets.has(target) && path !== undefined ? { target, path } : undefined;
      }
      if (!ROUTE_METHODS.has(method)) return undefined;
      node = strip(node.expression.expression);
    }
    return undefined;
  }

  for (const call of calls) {
    const callee = strip(call.expression);
    if (!ts.isPropertyAccessExpression(callee)) continue;
    const method = callee.name.text;
    const receiver = symbolOf(callee.expression);
    if (method === 'use' && receiver !== undefined && targets.has(receiver)) {
      const hasPath = isPathArgument(call.arguments[0]);
      const path = hasPath ? pathOf(call.arguments[0] as TS.Expression, call) : '/';
      if (path === undefined) continue;
      for (const argument of call.arguments.slice(hasPath ? 1 : 0)) {
        const child = mountedRouter(argument);
        if (child !== undefined) register(receiver, { kind: 'mount', path, child });
      }
      continue;
    }
    if (!ROUTE_METHODS.has(method)) continue;
    const key = method === 'all' ? '_all' : method;
    if (receiver !== undefined && targets.has(receiver)) {
      // `app.get(name)` with one argument reads a setting; a route has a path and a handler.
      if (call.arguments.length < 2) continue;
      const path = pathOf(call.arguments[0] as TS.Expression, call);
      if (path !== undefined) register(receiver, { kind: 'route', method: key, path, handlers: call.arguments.slice(1) });
      continue;
    }
    const chain = routeChain(callee.expression);
    if (chain === undefined || call.arguments.length === 0) continue;
    const path = pathOf(chain.path, call);
    if (path !== undefined) register(chain.target, { kind: 'route', method: key, path, handlers: [...call.arguments] });
  }
  return registrations;
}
