/** The `[json-args]` of `express-micro call`: parsed, and shaped as the `services` proxy takes them. */
import type { CompiledRoute } from '../../../client/route-index.ts';
import type { CallArguments } from '../../../client/types.ts';
import { CliError } from '../../errors.ts';

/** The most characters of the arguments quoted around where JSON parsing stopped. */
const EXCERPT = 20;

/**
 * Parses the arguments as JSON. On failure the message says where: the parser's own words (Node
 * gives a position) and the text around the position when there is one.
 */
export function parseJsonArguments(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const match = /position (\d+)/.exec(reason);
    let where = '';
    if (match !== null) {
      const at = Number(match[1]);
      const before = text.slice(Math.max(0, at - EXCERPT), at);
      const after = text.slice(at, at + EXCERPT);
      where = ` here: ${JSON.stringify(before)} >>> ${JSON.stringify(after)}`;
    }
    throw new CliError(`the arguments are not JSON (${reason})${where}; give an object, like '{"id":7}'`);
  }
}

/**
 * The arguments as the proxy takes them: an object (its keys fill path parameters, then the query
 * string or the JSON body), nothing, or, as `services.userService.getUser(7)` allows, a lone
 * string or number for a route with exactly one path parameter. Anything else is bad input.
 */
export function callArguments(value: unknown, route: CompiledRoute, label: string): CallArguments | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) return value as CallArguments;
  if ((typeof value === 'string' || typeof value === 'number') && route.params.length === 1) return { [route.params[0] as string]: value };
  const kind = Array.isArray(value) ? 'an array' : typeof value === 'string' || typeof value === 'number' ? `a lone ${typeof value} (only for a route with one path parameter)` : `a ${typeof value}`;
  throw new CliError(`${label} takes a JSON object of arguments, not ${kind}; like '{"id":7}'`);
}
