/**
 * A route's answer type, from its handler: the `Response<T>` it is declared with (directly, or
 * through `RequestHandler<P, T>`), else the union of what it passes to `res.json()` and
 * `res.send()` (`res.end()`, `res.sendStatus()`) on a 2xx status. Calls after `.status(n)` with a
 * literal n outside 200–299 are left out: the proxy turns those answers into a RemoteError, so a
 * caller never receives them. Unknown when none is found, or when one of them is `any`.
 */
import type * as TS from 'typescript';
import { jsonTypePrinter, union } from './json-type.ts';
import type { TypeScript } from './typescript.ts';

/** A route's answer, as the generated file writes it. */
export interface Answer {
  /** A standalone type, or undefined for `unknown`. */
  readonly type?: string | undefined;
  /** Why the answer is (partly) unknown. */
  readonly note?: string | undefined;
}

/** Works out answers for the handlers of one program. */
export interface AnswerReader {
  /** The answer of a handler function; `undefined` handler: it could not be found in the source. */
  answerOf(handler: TS.SignatureDeclaration | undefined): Answer;
}

const SENDERS = new Set(['json', 'send', 'end', 'sendStatus', 'jsonp']);

/** An answer reader for one program. */
export function answerReader(ts: TypeScript, program: TS.Program): AnswerReader {
  const checker = program.getTypeChecker();
  const printer = jsonTypePrinter(ts, program);

  /** The literal status of a `.status(n)` / `.sendStatus(n)` argument, if it is one. */
  function literalStatus(argument: TS.Expression | undefined): number | undefined {
    if (argument === undefined) return undefined;
    const type = checker.getTypeAtLocation(argument);
    return type.isNumberLiteral() ? type.value : undefined;
  }

  const isSuccess = (status: number | undefined): boolean => status === undefined || (status >= 200 && status < 300);

  /**
   * For a call like `res.status(201).json(x)`: whether its receiver chain starts at `res`, and
   * the status it sets on the way (the last `.status(n)`).
   */
  function chainFrom(call: TS.CallExpression, res: TS.Symbol): { status: number | undefined } | undefined {
    let status: number | undefined;
    let current: TS.Expression = (call.expression as TS.PropertyAccessExpression).expression;
    for (;;) {
      while (ts.isParenthesizedExpression(current) || ts.isNonNullExpression(current) || ts.isAsExpression(current)) current = current.expression;
      if (ts.isIdentifier(current)) return checker.getSymbolAtLocation(current) === res ? { status } : undefined;
      if (!ts.isCallExpression(current) || !ts.isPropertyAccessExpression(current.expression)) return undefined;
      if (current.expression.name.text === 'status' && status === undefined) status = literalStatus(current.arguments[0]);
      current = current.expression.expression;
    }
  }

  /** The declared body type of `res` (`Response<User>`), unless it is Express's default `any`. */
  function declared(res: TS.ParameterDeclaration): TS.Type | undefined {
    const type = checker.getTypeAtLocation(res.name);
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return undefined;
    const json = checker.getPropertyOfType(type, 'json');
    if (json === undefined) return undefined;
    const parameter = checker.getSignaturesOfType(checker.getTypeOfSymbolAtLocation(json, res), ts.SignatureKind.Call)[0]?.getParameters()[0];
    if (parameter === undefined) return undefined;
    const body = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(parameter, res));
    return body.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown) ? undefined : body;
  }

  function answerOf(handler: TS.SignatureDeclaration | undefined): Answer {
    if (handler === undefined) return { note: 'answer unknown: the handler is not a function this command can read' };
    const resParameter = handler.parameters[1];
    if (resParameter === undefined || !ts.isIdentifier(resParameter.name)) return { note: 'answer unknown: the handler takes no `res` it could answer with' };
    const annotated = declared(resParameter);
    if (annotated !== undefined) return finish([printer.print(annotated, resParameter)]);
    const res = checker.getSymbolAtLocation(resParameter.name);
    const body = (handler as { body?: TS.Node }).body;
    if (res === undefined || body === undefined) return { note: 'answer unknown: the handler has no body' };

    const printed: ReturnType<typeof printer.print>[] = [];
    let untyped = false;
    const visit = (node: TS.Node): void => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && SENDERS.has(node.expression.name.text)) {
        const chain = chainFrom(node, res);
        const method = node.expression.name.text;
        const status = method === 'sendStatus' ? literalStatus(node.arguments[0]) : chain?.status;
        if (chain !== undefined && isSuccess(status)) {
          const argument = node.arguments[0];
          if (method === 'sendStatus') printed.push({ text: status === 204 || status === 205 ? 'undefined' : 'string', notes: [] });
          else if (argument === undefined || status === 204 || status === 205) printed.push({ text: 'undefined', notes: [] });
          else {
            const type = checker.getTypeAtLocation(argument);
            if (type.flags & ts.TypeFlags.Any) untyped = true;
            // send() and end() of text or bytes answer text, which the proxy returns as a string.
            else if (method !== 'json' && method !== 'jsonp' && isTextOrBytes(type)) printed.push({ text: 'string', notes: [] });
            else printed.push(printer.print(type, argument));
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(body);
    if (untyped) return { note: 'answer unknown: the handler sends a value typed `any`' };
    if (printed.length === 0) return { note: 'answer unknown: the handler sends nothing through res.json() or res.send()' };
    return finish(printed);
  }

  function isTextOrBytes(type: TS.Type): boolean {
    if (type.flags & ts.TypeFlags.StringLike) return true;
    if (type.isUnion()) return type.types.every(isTextOrBytes);
    const name = type.getSymbol()?.getName();
    return name === 'Buffer' || name === 'Uint8Array' || name === 'ArrayBuffer';
  }

  return { answerOf };
}

function finish(printed: readonly { text: string; notes: readonly string[] }[]): Answer {
  const type = union(printed.map((item) => item.text));
  const notes = [...new Set(printed.flatMap((item) => item.notes))].sort();
  if (type === 'unknown') return { note: `answer unknown: ${notes.join('; ') || 'its type has no JSON form'}` };
  return notes.length === 0 ? { type } : { type, note: `answer partly unknown: ${notes.join('; ')}` };
}
