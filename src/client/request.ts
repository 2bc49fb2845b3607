import { MissingParameterError } from '../errors/index.ts';
import type { CompiledRoute } from './route-index.ts';
import type { CallArguments } from './types.ts';

function encodeValue(value: unknown): string {
  return encodeURIComponent(typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value));
}

/** A wildcard's value: `a/b` or `['a', 'b']`, each segment encoded on its own so its slashes stay. */
function encodeSegments(value: unknown): string {
  const segments = Array.isArray(value) ? value : String(value).split('/');
  return segments.map(encodeValue).join('/');
}

/**
 * Fills the route's path parameters from `args` (URL-encoded) and appends what is left as the
 * query string when the method sends no body. Fails before anything is sent when a required
 * parameter is missing.
 */
export function buildPath(service: string, call: string, route: CompiledRoute, args: CallArguments | undefined): string {
  const { parts, params } = route;
  let path = parts[0] as string;
  for (let index = 0; index < params.length; index++) {
    const name = params[index] as string;
    const value = args?.[name];
    if (value === undefined || value === null || value === '') {
      if (!route.optional.has(name)) throw new MissingParameterError(service, call, route.path, name);
      // An optional parameter left out takes its leading slash (or format dot: `{.:ext}`) with it.
      if (path.endsWith('/') || path.endsWith('.')) path = path.slice(0, -1);
    } else if (route.wildcards?.has(name)) {
      path += encodeSegments(value);
    } else {
      path += encodeValue(value);
    }
    path += parts[index + 1] as string;
  }
  if (route.sendsBody || args === undefined) return path || '/';
  let separator = path.includes('?') ? '&' : '?';
  for (const key in args) {
    const value = args[key];
    if (value === undefined || route.paramSet.has(key)) continue;
    if (Array.isArray(value)) {
      for (const item of value) {
        path += `${separator}${encodeURIComponent(key)}=${encodeValue(item)}`;
        separator = '&';
      }
    } else {
      path += `${separator}${encodeURIComponent(key)}=${encodeValue(value)}`;
      separator = '&';
    }
  }
  return path || '/';
}

/** The JSON body of a POST, PUT or PATCH: the arguments that are not path parameters. */
export function buildBody(route: CompiledRoute, args: CallArguments | undefined): string | undefined {
  if (!route.sendsBody) return undefined;
  if (args === undefined || route.params.length === 0) return JSON.stringify(args ?? {});
  const rest: CallArguments = {};
  for (const key in args) if (!route.paramSet.has(key)) rest[key] = args[key];
  return JSON.stringify(rest);
}

/** Parses an answer: JSON when it says so, `undefined` when empty (204), else the text. */
export function decodeBody(status: number, contentType: string, body: string): unknown {
  if (status === 204 || status === 205 || body === '') return undefined;
  if (contentType.includes('json')) {
    try {
      return JSON.parse(body) as unknown;
    } catch {
      return body;
    }
  }
  return body;
}
