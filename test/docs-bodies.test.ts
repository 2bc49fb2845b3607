/**
 * The code of docs/bodies.md and of the README's "Files and streams" section, typechecked against
 * the library's source: each block becomes the body of an async function after a prelude that
 * declares what the blocks lean on (`services`, node:fs, node:stream). Their behaviour is tested
 * on every runtime by test/behaviour/bodies.test.ts. Node only (it runs the TypeScript compiler).
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { compile, tempFolder } from './types/support.ts';

const folder = tempFolder('docs-bodies');
afterAll(() => folder.remove());

const PRELUDE = `import express from 'express';
import expressMicro, { ResponseTooLargeError } from 'express-micro';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

const { services } = expressMicro(express(), { serviceName: 'gateway', logger: false });
export const used = [ResponseTooLargeError, createReadStream, createWriteStream, readFile, writeFile, Readable, pipeline] as const;
export type Used = NodeReadableStream;
`;

function blocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string);
}

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(heading);
  if (start === -1) return '';
  const next = markdown.indexOf('\n## ', start + heading.length);
  return markdown.slice(start, next === -1 ? undefined : next);
}

const docs = readFileSync(new URL('../docs/bodies.md', import.meta.url), 'utf8');
const readme = section(readFileSync(new URL('../README.md', import.meta.url), 'utf8'), '## Files and streams');

describe('docs/bodies.md and the README\'s "Files and streams"', () => {
  it('have code blocks, and every one compiles', { timeout: 60_000 }, () => {
    const all = [...blocks(docs), ...blocks(readme)];
    expect(blocks(docs).length).toBeGreaterThanOrEqual(6);
    expect(blocks(readme).length).toBe(1);
    const files = Object.fromEntries(all.map((code, index) => [`block-${index}.ts`, `${PRELUDE}\nexport async function block(): Promise<void> {\n${code}}\n`]));
    const diagnostics = compile(folder.path, files).map((diagnostic) => `${diagnostic.file}:${diagnostic.line}: ${diagnostic.message}`);
    expect(diagnostics).toEqual([]);
  });
});
