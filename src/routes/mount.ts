/**
 * Recovers the path a router was mounted at (`app.use('/api', router)`), which Express does not
 * keep in a documented place:
 * - router@2.3+ (Express 5) keeps the registered path as `layer.rawPath`.
 * - router@2.0–2.2 (Express 5) keeps only matcher closures; the one path they still reveal is the
 *   root (`layer.slash`). Routers mounted anywhere else there cannot be placed, so they are left
 *   out rather than published under a wrong path.
 * - Express 4 keeps the compiled `layer.regexp` (path-to-regexp 0.1) and its `keys`. Its source is
 *   read back for the shapes that compiler emits for plain mount paths: literal text, `.`, and
 *   `:name` / `:name?` parameters. Anything else (custom regexps, `*`, format parameters) is
 *   ambiguous and left out.
 */

/** The layer fields read here; any of them may be missing on an odd app. */
export interface MountLayer {
  rawPath?: unknown;
  slash?: unknown;
  regexp?: unknown;
  keys?: unknown;
}

/**
 * The paths a router layer is mounted at, without a trailing slash (`''` for the root), or
 * `undefined` when they cannot be recovered.
 */
export function mountPaths(layer: MountLayer): string[] | undefined {
  if ('rawPath' in layer) {
    const raw = layer.rawPath;
    // A wildcard mount (`/files/*rest`) takes the rest of the path greedily: the router below it
    // sees `/`, so its routes are not answered where they would be published.
    if (typeof raw === 'string') return WILDCARD.test(raw) ? undefined : [trimSlash(raw)];
    if (Array.isArray(raw)) return raw.filter((p): p is string => typeof p === 'string' && !WILDCARD.test(p)).map(trimSlash);
    return undefined;
  }
  if (layer.slash === true) return [''];
  const regexp = layer.regexp;
  if (!(regexp instanceof RegExp)) return undefined;
  if ((regexp as RegExp & { fast_slash?: unknown }).fast_slash === true) return [''];
  const keys = Array.isArray(layer.keys) ? layer.keys : [];
  return fromExpress4(regexp.source, keys)?.map(trimSlash);
}

const WILDCARD = /(?<!\\)\*/;
// What path-to-regexp 0.1 emits for `/:name` and `/:name?` (Node may print `/` as `\/` in classes).
const PARAM_GROUP = /\(\?:\\\/\(\[\^\\?\/\]\+\?\)\)(\??)/y;
// Where a non-ending path stops: `/?` unless strict, then a lookahead. Arrays join with `|`.
const ENDINGS = ['\\/?(?=\\/|$)', '(?=\\/|$)'];

function fromExpress4(source: string, keys: readonly unknown[]): string[] | undefined {
  const paths: string[] = [];
  let current = '';
  let key = 0;
  let i = 0;
  if (source[i++] !== '^') return undefined;
  while (i < source.length) {
    const ending = ENDINGS.find((e) => source.startsWith(e, i));
    if (ending !== undefined) {
      paths.push(current);
      current = '';
      i += ending.length;
      if (i === source.length) return paths;
      if (!source.startsWith('|^', i)) return undefined;
      i += 2;
      continue;
    }
    PARAM_GROUP.lastIndex = i;
    const param = PARAM_GROUP.exec(source);
    if (param !== null) {
      const name = (keys[key++] as { name?: unknown } | undefined)?.name;
      if (typeof name !== 'string') return undefined;
      current += `/:${name}${param[1] ?? ''}`;
      i = PARAM_GROUP.lastIndex;
      continue;
    }
    const escaped = /^\\[/.-]/.exec(source.slice(i, i + 2));
    if (escaped !== null) {
      current += source[i + 1];
      i += 2;
    } else if (/[\w~-]/.test(source[i] as string)) {
      current += source[i++];
    } else {
      return undefined;
    }
  }
  // The source never reached an ending, so it was not made from a mount path.
  return undefined;
}

function trimSlash(path: string): string {
  return path.replace(/\/+$/, '');
}
