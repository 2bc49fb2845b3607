/**
 * The events a service subscribes to, read from its source: `.subscribe('order.created', handler)`
 * on the handle its `expressMicro(app, …)` call returns, held in a variable (`const micro =
 * expressMicro(app)`, imported from another file, or passed to a function: `setup(micro)`), or
 * destructured (`const { subscribe } = expressMicro(app)`). The event name must be a string
 * literal (or a constant of a literal type); the payload is the type the handler's first
 * parameter is declared with, written as the JSON the handler receives. Anything else (a handle
 * kept in an object, a name computed at run time) is not followed: a name that is not a literal
 * is named in a warning, the rest is silently missed (a running cluster, `--peer`, publishes it).
 */
import type * as TS from 'typescript';
import { EVENT_NAME } from '../../../../events/names.ts';
import type { EventModel } from '../model.ts';
import type { HandlerReader } from './handlers.ts';
import type { JsonTypePrinter } from './json-type.ts';
import type { Source } from './syntax.ts';

/** Rounds of following the handle into the functions it is passed to. */
const MAX_ROUNDS = 8;

/** The subscriptions in `calls` made on the handle `serviceCall` returns, in source order. */
export function collectSubscriptions(source: Source, calls: readonly TS.CallExpression[], serviceCall: TS.CallExpression, handlers: HandlerReader, printer: JsonTypePrinter): EventModel[] {
  const { ts, checker, strip, symbolOf } = source;

  /** The node that holds the call's value: up through parentheses, `as`, `satisfies`, `!`. */
  let holder: TS.Node = serviceCall;
  while (ts.isParenthesizedExpression(holder.parent) || ts.isAsExpression(holder.parent) || ts.isSatisfiesExpression(holder.parent) || ts.isNonNullExpression(holder.parent)) holder = holder.parent;
  const declaration = holder.parent;

  /** Symbols that hold the handle, and symbols that hold its `subscribe` method. */
  const handles = new Set<TS.Symbol>();
  const subscribers = new Set<TS.Symbol>();
  if (declaration !== undefined && ts.isVariableDeclaration(declaration) && declaration.initializer === holder) {
    if (ts.isIdentifier(declaration.name)) {
      const symbol = checker.getSymbolAtLocation(declaration.name);
      if (symbol !== undefined) handles.add(symbol);
    } else if (ts.isObjectBindingPattern(declaration.name)) {
      for (const element of declaration.name.elements) {
        const property = element.propertyName ?? element.name;
        if (!ts.isIdentifier(property) || property.text !== 'subscribe' || !ts.isIdentifier(element.name)) continue;
        const symbol = checker.getSymbolAtLocation(element.name);
        if (symbol !== undefined) subscribers.add(symbol);
      }
    }
  }

  // The handle passed to functions: their parameters stand for it (`function routes(micro) {…}`).
  for (let changed = handles.size > 0, round = 0; changed && round < MAX_ROUNDS; round++) {
    changed = false;
    for (const call of calls) {
      const passes = call.arguments.some((argument) => {
        const symbol = symbolOf(argument);
        return symbol !== undefined && handles.has(symbol);
      });
      if (!passes) continue;
      const target = handlers.functionOf(call.expression);
      call.arguments.forEach((argument, index) => {
        const symbol = symbolOf(argument);
        const parameter = target?.parameters[index];
        if (symbol === undefined || !handles.has(symbol) || parameter === undefined || !ts.isIdentifier(parameter.name)) return;
        const parameterSymbol = checker.getSymbolAtLocation(parameter.name);
        if (parameterSymbol !== undefined && !handles.has(parameterSymbol)) {
          handles.add(parameterSymbol);
          changed = true;
        }
      });
    }
  }

  function isSubscribe(call: TS.CallExpression): boolean {
    const callee = strip(call.expression);
    if (ts.isIdentifier(callee)) {
      const symbol = symbolOf(callee);
      return symbol !== undefined && subscribers.has(symbol);
    }
    if (!ts.isPropertyAccessExpression(callee) || callee.name.text !== 'subscribe') return false;
    const receiver = strip(callee.expression);
    if (receiver === serviceCall) return true;
    const symbol = symbolOf(receiver);
    return symbol !== undefined && handles.has(symbol);
  }

  /** The payload: the type the handler's first parameter is declared with, as JSON; absent when none is. */
  function payloadOf(handler: TS.Expression | undefined): Pick<EventModel, 'payload' | 'note'> {
    if (handler === undefined) return {};
    const parameter = handlers.functionOf(handler)?.parameters[0];
    if (parameter?.type === undefined) return {};
    const printed = printer.print(checker.getTypeAtLocation(parameter), parameter);
    if (printed.text === 'unknown') return {};
    return { payload: printed.text, note: printed.notes.length === 0 ? undefined : printed.notes.join('; ') };
  }

  const events: EventModel[] = [];
  for (const call of calls) {
    if (call.arguments.length < 2 || !isSubscribe(call)) continue;
    const name = source.stringValue(call.arguments[0]);
    if (name === undefined) {
      source.warn(call, `a subscribe() whose event name is not a string literal (${(call.arguments[0] as TS.Expression).getText().slice(0, 60)}): its event is left out`);
      continue;
    }
    if (!EVENT_NAME.test(name)) {
      source.warn(call, `subscribe(${JSON.stringify(name.slice(0, 60))}): not an event name (a letter or digit, then up to 99 of letters, digits and . _ : -): left out`);
      continue;
    }
    events.push({ name, ...payloadOf(call.arguments[1]) });
  }
  return events;
}
