/**
 * The conventional call name of a route (docs/routing.md, "Names"): a verb from the method and
 * a noun from the path, so that anonymous handlers can be called by name too.
 *
 * `GET /users/:id` → `getUser`, `GET /users` → `getUsers`, `GET /users/:id/orders` →
 * `getUserOrders`, `POST /orders` → `createOrder`, `GET /orders/:userId` → `getOrders`.
 *
 * Choices where the design is silent:
 * - A noun that no parameter identifies keeps the path's own spelling instead of being
 *   pluralized: `PATCH /users/:id/status` → `patchUserStatus`, `GET /api/v1/health` →
 *   `getHealth`. Pluralizing would invent `getHealths`; collection segments are plural already.
 * - POST names one new thing, so its noun is always singular (`POST /users/:id/orders` →
 *   `createUserOrder`); `status`-like words survive singularizing (see singular.ts).
 * - An identifying parameter is `:id`, `:<singular>Id` or `:<singular>_id`, compared ignoring
 *   case and underscores (`/order-items/:orderItemId` → `getOrderItem`).
 * - An optional parameter (`:id?` in Express 4, `{/:id}` in Express 5) identifies nothing, since
 *   the route also answers without it: `GET /users/:id?` → `getUsers`.
 * - Wildcards (`*`, `*splat`, `{*splat}`, `:path*`) and segments that mix text and parameters
 *   (`:from-:to`, `file.:ext`) neither name nor identify: `GET /files/*` → `getFiles`. An
 *   optional format is the exception, the segment's text names: `GET /exports{.:format}` and
 *   `GET /exports.:format?` → `getExports`.
 * - `api` and version segments (`v1`, `v2.1`) are dropped before anything else, so
 *   `/api/v1/users/:id` names like `/users/:id`.
 * - No verb for the method (HEAD, OPTIONS, `.all()`) or no static noun (`/`, `/:id`, `/*`,
 *   `/api/v1`): no name.
 */

import { singularize } from './singular.ts';

const VERBS: Readonly<Record<string, string>> = {
  GET: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

type Segment =
  | { kind: 'static'; text: string }
  | { kind: 'param'; name: string; optional: boolean }
  | { kind: 'dynamic' };

// `:name`, with an Express 4 regexp `(\d+)` and optional marker `?` allowed after it.
const PARAM = /^:([A-Za-z_$][\w$]*)(?:\([^)]*\))?(\?)?$/;
const NOT_NAMING = /^(?:api|v\d+(?:\.\d+)*)$/i;
const FORMAT = /^\.:[A-Za-z_$][\w$]*$/;
const OPTIONAL_FORMAT = /^(.+)\.:[A-Za-z_$][\w$]*\?$/;

/**
 * The conventional name of a route, or `undefined` when the method has no verb or the path no
 * static noun. Understands Express 4 and Express 5 (path-to-regexp 8) path syntax.
 */
export function deriveName(method: string, path: string): string | undefined {
  const verb = VERBS[method.toUpperCase()];
  if (verb === undefined) return undefined;
  const segments = parse(path).filter((s) => !(s.kind === 'static' && NOT_NAMING.test(s.text)));
  let last = segments.length - 1;
  while (last >= 0 && segments[last]?.kind !== 'static') last--;
  if (last < 0) return undefined;

  let name = verb;
  for (let i = 0; i <= last; i++) {
    const segment = segments[i];
    if (segment?.kind !== 'static') continue;
    const identified = identifies(segment.text, segments[i + 1]);
    if (i === last) name += noun(segment.text, identified || verb === 'create');
    else if (identified) name += noun(segment.text, true);
  }
  return name;
}

/** Splits a path into segments; braces (Express 5 optional groups) mark what they hold optional. */
function parse(path: string): Segment[] {
  const segments: Segment[] = [];
  let text = '';
  let optional = false;
  let depth = 0;
  let group = 0;
  const flush = (): void => {
    if (text !== '') segments.push(classify(text, optional));
    text = '';
    optional = false;
  };
  for (let i = 0; i < path.length; i++) {
    const char = path[i] as string;
    if (char === '\\') text += path[++i] ?? '';
    else if (char === '{') {
      if (depth++ === 0) group = text.length;
    } else if (char === '}') {
      depth = Math.max(0, depth - 1);
      // An optional format (`/exports{.:format}`) leaves the segment's own text to name it.
      if (depth === 0 && group > 0 && FORMAT.test(text.slice(group))) {
        text = text.slice(0, group);
        optional = false;
      }
    } else if (char === '/') flush();
    else {
      text += char;
      if (depth > 0) optional = true;
    }
  }
  flush();
  return segments;
}

function classify(text: string, optional: boolean): Segment {
  // Express 4's optional format (`/exports.:format?`), as `{.:format}` above.
  const format = OPTIONAL_FORMAT.exec(text);
  if (format?.[1] !== undefined && !/[:*?+()]/.test(format[1])) return { kind: 'static', text: format[1] };
  if (!/[:*?+()]/.test(text)) return { kind: 'static', text };
  const param = PARAM.exec(text);
  if (param?.[1] === undefined) return { kind: 'dynamic' };
  return { kind: 'param', name: param[1], optional: optional || param[2] === '?' };
}

/** Whether `next` is a required parameter that picks one item of the collection `text`. */
function identifies(text: string, next: Segment | undefined): boolean {
  if (next?.kind !== 'param' || next.optional) return false;
  const param = compact(next.name);
  return param === 'id' || param === `${compact(noun(text, true))}id`;
}

/** The segment as a PascalCase noun (`order-items` → `OrderItems`), its last word singular on request. */
function noun(text: string, singular: boolean): string {
  const words = text.split(/[^\p{L}\p{N}]+|(?<=[\p{Ll}\p{N}])(?=\p{Lu})/u).filter((w) => w !== '');
  if (singular && words.length > 0) words.push(singularize(words.pop() as string));
  return words.map((w) => w.slice(0, 1).toUpperCase() + w.slice(1)).join('');
}

function compact(name: string): string {
  return name.replace(/_/g, '').toLowerCase();
}
