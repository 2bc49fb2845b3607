/**
 * A strict parser of the Prometheus text format (version 0.0.4), for tests: it throws on the first
 * violation, naming the line. Shared by every runtime's suite: no test runner imports here.
 *
 * Checked: a trailing newline; HELP and TYPE at most once per family and before its samples;
 * known TYPEs; metric and label names; label values escaped only as `\\`, `\"`, `\n`, and HELP
 * only as `\\`, `\n`; no repeated label name or sample; numbers as Prometheus spells them (NaN,
 * +Inf, -Inf); each family's lines in one group; counters not negative; histograms with `le` on
 * every `_bucket`, a `+Inf` bucket equal to `_count`, cumulative counts that never go down, and
 * `_sum` and `_count` for each label set.
 */

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | undefined;
  samples: ParsedSample[];
}

/** Families by name, in the order they appeared. */
export type Exposition = Map<string, ParsedFamily>;

/** Thrown for a violation of the format. */
export class ExpositionError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'ExpositionError';
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NUMBER = /^(NaN|[+-]Inf|[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseNumber(text: string, line: number): number {
  if (!NUMBER.test(text)) throw new ExpositionError(line, `"${text}" is not a number`);
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

function unescape(text: string, allowed: string, line: number): string {
  let out = '';
  for (let index = 0; index < text.length; index++) {
    const character = text[index] as string;
    if (character !== '\\') {
      out += character;
      continue;
    }
    const next = text[++index];
    if (next === undefined || !allowed.includes(next)) throw new ExpositionError(line, `bad escape "\\${next ?? ''}"`);
    out += next === 'n' ? '\n' : next;
  }
  return out;
}

/** Parses `{a="x",b="y"}` starting at `text[start] === '{'`; returns the labels and the index after `}`. */
function parseLabels(text: string, start: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = Object.create(null);
  let index = start + 1;
  while (true) {
    if (text[index] === '}') return { labels, end: index + 1 };
    const name = /^[^=]*/.exec(text.slice(index))?.[0] ?? '';
    if (!LABEL_NAME.test(name)) throw new ExpositionError(line, `"${name}" is not a label name`);
    if (name in labels) throw new ExpositionError(line, `label "${name}" repeated`);
    index += name.length;
    if (text[index] !== '=' || text[index + 1] !== '"') throw new ExpositionError(line, `label "${name}" needs ="value"`);
    index += 2;
    let raw = '';
    while (true) {
      const character = text[index];
      if (character === undefined) throw new ExpositionError(line, `label "${name}" is not closed`);
      if (character === '"') break;
      if (character === '\n') throw new ExpositionError(line, 'raw newline in a label value');
      if (character === '\\') {
        raw += character + (text[index + 1] ?? '');
        index += 2;
        continue;
      }
      raw += character;
      index++;
    }
    labels[name] = unescape(raw, '\\"n', line);
    index++;
    if (text[index] === ',') index++;
    else if (text[index] !== '}') throw new ExpositionError(line, `expected "," or "}" after label "${name}"`);
  }
}

/** The family a sample name belongs to, given the families typed so far. */
function familyOf(name: string, families: Exposition): { family: string; suffix: string } {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = families.get(base)?.type;
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return { family: base, suffix };
  }
  return { family: name, suffix: '' };
}

function labelKey(labels: Record<string, string>, without?: string): string {
  return JSON.stringify(
    Object.keys(labels)
      .filter((name) => name !== without)
      .sort()
      .map((name) => [name, labels[name]]),
  );
}

function checkHistogram(family: ParsedFamily): void {
  const groups = new Map<string, { buckets: Map<number, number>; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const key = labelKey(sample.labels, 'le');
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { buckets: new Map() }));
    if (sample.name.endsWith('_bucket')) {
      const le = sample.labels.le;
      if (le === undefined) throw new ExpositionError(0, `${sample.name} without "le"`);
      const bound = parseNumber(le, 0);
      if (group.buckets.has(bound)) throw new ExpositionError(0, `${sample.name} repeats le="${le}"`);
      group.buckets.set(bound, sample.value);
    } else if (sample.name.endsWith('_sum')) group.sum = sample.value;
    else if (sample.name.endsWith('_count')) group.count = sample.value;
    else throw new ExpositionError(0, `${sample.name} does not belong to histogram ${family.name}`);
  }
  for (const [key, group] of groups) {
    const where = `${family.name}${key}`;
    if (group.sum === undefined || group.count === undefined) throw new ExpositionError(0, `${where}: _sum and _count are required`);
    const inf = group.buckets.get(Infinity);
    if (inf === undefined) throw new ExpositionError(0, `${where}: no le="+Inf" bucket`);
    if (inf !== group.count) throw new ExpositionError(0, `${where}: le="+Inf" is ${inf}, _count is ${group.count}`);
    let previous = 0;
    for (const bound of [...group.buckets.keys()].sort((a, b) => a - b)) {
      const count = group.buckets.get(bound) as number;
      if (!(count >= previous)) throw new ExpositionError(0, `${where}: bucket le="${bound}" (${count}) is below the one before (${previous})`);
      previous = count;
    }
  }
}

/** Parses `text`, or throws an {@link ExpositionError} at the first violation. */
export function parseExposition(text: string): Exposition {
  if (text.length > 0 && !text.endsWith('\n')) throw new ExpositionError(text.split('\n').length, 'no trailing newline');
  const families: Exposition = new Map();
  const closed = new Set<string>();
  const seen = new Set<string>();
  const typed = new Set<string>();
  let current: string | undefined;
  const enter = (name: string, line: number): ParsedFamily => {
    if (current !== name) {
      if (closed.has(name)) throw new ExpositionError(line, `${name}: its lines are not in one group`);
      if (current !== undefined) closed.add(current);
      current = name;
    }
    let family = families.get(name);
    if (!family) families.set(name, (family = { name, type: 'untyped', help: undefined, samples: [] }));
    return family;
  };
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((content, lineIndex) => {
    const line = lineIndex + 1;
    if (content.trim() === '') return;
    if (content.startsWith('#')) {
      const match = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(content);
      if (!match) return; // a plain comment
      const [, keyword, name, rest = ''] = match as unknown as [string, string, string, string | undefined];
      if (!METRIC_NAME.test(name)) throw new ExpositionError(line, `"${name}" is not a metric name`);
      const family = enter(name, line);
      if (keyword === 'HELP') {
        if (family.help !== undefined) throw new ExpositionError(line, `${name}: a second HELP`);
        family.help = unescape(rest, '\\n', line);
      } else {
        if (family.samples.length > 0) throw new ExpositionError(line, `${name}: TYPE after its samples`);
        if (typed.has(name)) throw new ExpositionError(line, `${name}: a second TYPE`);
        if (!TYPES.has(rest)) throw new ExpositionError(line, `${name}: unknown TYPE "${rest}"`);
        family.type = rest as ParsedFamily['type'];
        typed.add(name);
      }
      return;
    }
    const name = /^[^\s{]*/.exec(content)?.[0] ?? '';
    if (!METRIC_NAME.test(name)) throw new ExpositionError(line, `"${name}" is not a metric name`);
    let index = name.length;
    let labels: Record<string, string> = Object.create(null);
    if (content[index] === '{') ({ labels, end: index } = parseLabels(content, index, line));
    const tail = content.slice(index);
    const fields = /^ +(\S+)(?: +(-?\d+))?$/.exec(tail);
    if (!fields) throw new ExpositionError(line, `expected " value [timestamp]" after ${name}, got "${tail}"`);
    const value = parseNumber(fields[1] as string, line);
    const { family: familyName, suffix } = familyOf(name, families);
    const family = enter(familyName, line);
    if (family.type === 'counter' && value < 0) throw new ExpositionError(line, `${name}: a counter below zero`);
    if (family.type === 'histogram' && suffix === '') throw new ExpositionError(line, `${name}: a histogram has only _bucket, _sum and _count samples`);
    const key = `${name}${labelKey(labels)}`;
    if (seen.has(key)) throw new ExpositionError(line, `${name}: sample repeated`);
    seen.add(key);
    family.samples.push({ name, labels: { ...labels }, value });
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** The sum of the samples `name` whose labels include `labels`; 0 when there is none (a counter not yet counted). */
export function sampleValue(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const family of exposition.values()) {
    for (const sample of family.samples) {
      if (sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) total += sample.value;
    }
  }
  return total;
}
