import { ExpressMicroError, MissingParameterError } from '../errors/index.ts';
import type { CompiledRoute } from './route-index.ts';
import type { HttpResponse } from '../runtime/index.ts';
import type { CallArguments, ResponseType } from './types.ts';

/** A call's arguments as an object: `getUser(7)`, a lone value, fills the route's only parameter. */
export function normalizeArguments(route: CompiledRoute, service: string, name: string, args: unknown): CallArguments | undefined {
  if (args === undefined || args === null) return undefined;
  if (typeof args === 'object' && !Array.isArray(args)) return args as CallArguments;
  if ((typeof args === 'string' || typeof args === 'number') && route.params.length === 1) return { [route.params[0] as string]: args };
  throw new ExpressMicroError(`express-micro: ${service}.${name} takes an object of arguments`, { service, call: name });
}

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
 * query string, unless it goes in a JSON body (`jsonBody`: a POST, PUT or PATCH without a raw
 * body of its own). Fails before anything is sent when a required parameter is missing.
 */
export function buildPath(service: string, call: string, route: CompiledRoute, args: CallArguments | undefined, jsonBody: boolean = route.sendsBody): string {
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
  if (jsonBody || args === undefined) return path || '/';
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

/**
 * Whether a content type is read as text: `text/*`, `application/x-www-form-urlencoded`, and XML
 * (`application/xml`, `image/svg+xml`, any `+xml`).
 */
function isText(contentType: string): boolean {
  const essence = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return essence.startsWith('text/') || essence === 'application/x-www-form-urlencoded' || essence.endsWith('xml');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const NO_BYTES = new Uint8Array(0);

/**
 * The value a call resolves to (docs/bodies.md): JSON parsed, text as a string, 204 and empty
 * bodies `undefined`, anything else a `Uint8Array` of the exact bytes; `responseType` overrides
 * that for a 2xx answer. A streamed answer is the stream the runtime handed over.
 */
export function decodeAnswer(response: HttpResponse, responseType: ResponseType | undefined): unknown {
  const { status, contentType } = response;
  const success = status >= 200 && status <= 299;
  if (responseType === undefined || !success) {
    if (status === 204 || status === 205 || response.bytes.byteLength === 0) return undefined;
    if (contentType.includes('json')) return parseJson(response.body);
    return isText(contentType) ? response.body : plainBytes(response.bytes);
  }
  switch (responseType) {
    case 'stream':
      return response.stream ?? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
    case 'bytes':
      return response.bytes.byteLength === 0 ? NO_BYTES : plainBytes(response.bytes);
    case 'text':
      return response.body;
    default:
      return response.bytes.byteLength === 0 ? undefined : parseJson(response.body);
  }
}

/** The bytes as a plain Uint8Array (a Node Buffer is one, with other methods the caller should not lean on). */
function plainBytes(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
