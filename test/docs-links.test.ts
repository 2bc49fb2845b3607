/**
 * Every relative link in README.md and docs/*.md resolves: the file exists, and a `#anchor` is a
 * heading of the target (GitHub's slugs). Node only: it reads files, nothing runs. The README also
 * stays short enough to read in five minutes (issue 28): its depth lives in docs/.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchors, links, markdownFiles, readMarkdown, ROOT } from './support/markdown.ts';

/** The README's length budget, in lines (issue 28: "at most ~350"). */
const README_MAX_LINES = 350;

interface Broken {
  readonly where: string;
  readonly target: string;
  readonly why: string;
}

/** What is wrong with one link from `file`, or undefined when it resolves. */
function check(file: string, target: string, read: (file: string) => string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto:: not ours to check
  const [path = '', anchor] = target.split('#') as [string, string | undefined];
  const resolved = path === '' ? file : normalize(join(dirname(file), decodeURIComponent(path)));
  if (resolved.startsWith('..')) return `points outside the repository (${resolved})`;
  if (!existsSync(join(ROOT, resolved))) return `no such file: ${resolved}`;
  if (anchor === undefined || anchor === '') return undefined;
  if (!resolved.endsWith('.md') || statSync(join(ROOT, resolved)).isDirectory()) return `an anchor into ${resolved}, which is not Markdown`;
  const known = anchors(read(resolved));
  if (known.has(decodeURIComponent(anchor))) return undefined;
  return `${resolved} has no heading #${anchor}`;
}

/** Every broken link in the given files. */
function brokenLinks(files: readonly string[], read: (file: string) => string = readMarkdown): Broken[] {
  const broken: Broken[] = [];
  for (const file of files) {
    for (const link of links(file, read(file))) {
      const why = check(file, link.target, read);
      if (why !== undefined) broken.push({ where: `${file}:${link.line}`, target: link.target, why });
    }
  }
  return broken;
}

describe('links in README.md and docs/*.md', () => {
  it('every relative link resolves to a file, and every #anchor to one of its headings', () => {
    const files = markdownFiles();
    expect(files).toContain('docs/development.md');
    expect(links('README.md', readMarkdown('README.md')).length).toBeGreaterThan(10);
    expect(brokenLinks(files)).toEqual([]);
  });

  it('finds a broken file, a broken anchor and a link outside the repository (so the check can fail)', () => {
    const text = [
      '# Title',
      '## A heading: with `code`, (punctuation) and Ünïcode',
      '[ok](#a-heading-with-code-punctuation-and-ünïcode) [ok too](docs/performance.md#membership-swim)',
      '[gone](docs/no-such-guide.md) [bad anchor](docs/performance.md#no-such-heading) [out](../../etc/passwd)',
      '`[in code](nowhere.md)`',
      '```md',
      '[in a block](nowhere.md)',
      '```',
    ].join('\n');
    const broken = brokenLinks(['README.md'], (file) => (file === 'README.md' ? text : readMarkdown(file)));
    expect(broken.map((link) => link.target)).toEqual(['docs/no-such-guide.md', 'docs/performance.md#no-such-heading', '../../etc/passwd']);
  });

  it('repeated headings get GitHub\'s -1, -2 anchors', () => {
    expect([...anchors('# Tests\n## Tests\n### Tests')]).toEqual(['tests', 'tests-1', 'tests-2']);
  });

  it(`keeps the README at most ${README_MAX_LINES} lines; the rest is in the guides`, () => {
    const lines = readMarkdown('README.md').trimEnd().split('\n').length;
    expect(lines).toBeLessThanOrEqual(README_MAX_LINES);
    // The two commands a newcomer runs first stay visible in the README.
    expect(readMarkdown('README.md')).toContain('npm install && npm run demo');
    expect(readMarkdown('README.md')).toMatch(/^npm test\b/m);
  });
});
