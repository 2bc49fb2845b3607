/**
 * Reading the project's Markdown (README.md and docs/*.md) the way GitHub renders it, for the
 * docs tests: fenced code blocks with their info strings, relative links, and heading anchors.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository's root folder. */
export const ROOT: string = new URL('../..', import.meta.url).pathname;

/** README.md and every docs/*.md, as paths relative to {@link ROOT}. */
export function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

/** One fenced code block. */
export interface CodeBlock {
  /** The file it is in, relative to the root. */
  readonly file: string;
  /** The line of its opening fence (1-based). */
  readonly line: number;
  /** The first word of the info string (`ts`, `sh`, …), or '' for none. */
  readonly language: string;
  /** The rest of the info string as `key=value` / `key="value"` / bare `key` (value ''). */
  readonly attributes: ReadonlyMap<string, string>;
  /** The block's text, without the fences. */
  readonly code: string;
}

const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;

/** Splits an info string's attributes: `group=typed unchecked="a reason, with spaces" output`. */
function parseAttributes(text: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of text.matchAll(/([\w-]+)(?:=(?:"([^"]*)"|(\S+)))?/g)) {
    attributes.set(match[1]!, match[2] ?? match[3] ?? '');
  }
  return attributes;
}

/** Every fenced code block of a Markdown text. */
export function codeBlocks(file: string, text: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const open = FENCE.exec(lines[index]!);
    if (!open) continue;
    const fence = open[2]!;
    const info = open[3]!.trim();
    const body: string[] = [];
    let end = index + 1;
    while (end < lines.length && !new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`).test(lines[end]!)) body.push(lines[end++]!);
    const [language = '', ...rest] = info.split(/\s+/);
    blocks.push({ file, line: index + 1, language: language.toLowerCase(), attributes: parseAttributes(rest.join(' ')), code: body.join('\n') });
    index = end;
  }
  return blocks;
}

/** The text with every fenced block blanked out (line numbers kept), and inline code spans removed. */
function proseOnly(text: string): string[] {
  const lines = text.split('\n');
  let fence: string | undefined;
  return lines.map((line) => {
    const open = FENCE.exec(line);
    if (fence === undefined && open) {
      fence = open[2]!;
      return '';
    }
    if (fence !== undefined) {
      if (new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`).test(line)) fence = undefined;
      return '';
    }
    return line.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, '');
  });
}

/** One link target written in prose: `[text](target)` or `![alt](target)`. */
export interface Link {
  readonly file: string;
  readonly line: number;
  readonly target: string;
}

/** Every inline link and image of a Markdown text, outside code. */
export function links(file: string, text: string): Link[] {
  const found: Link[] = [];
  proseOnly(text).forEach((line, index) => {
    for (const match of line.matchAll(/!?\[(?:[^\][]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ file, line: index + 1, target: match[1]! });
    }
  });
  return found;
}

/**
 * GitHub's anchor for a heading: the rendered text (inline code and links as their text) in lower
 * case, with everything but letters, digits, spaces, `-` and `_` removed and spaces made `-`.
 */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor a Markdown text's headings define, with GitHub's `-1`, `-2` for repeats. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of proseOnlyKeepingCode(text)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Prose lines with fenced blocks blanked out but inline code kept (headings keep their code's text). */
function proseOnlyKeepingCode(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const open = FENCE.exec(line);
    if (fence === undefined && open) {
      fence = open[2]!;
      return '';
    }
    if (fence !== undefined) {
      if (new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`).test(line)) fence = undefined;
      return '';
    }
    return line;
  });
}

/** A file's text, read from the root. */
export function readMarkdown(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8');
}
