/**
 * docs/metadata.md's code blocks: the example typechecks against the library's source, the
 * status table is what `express-micro status` renders for those rows, and the limits it states
 * are the ones the code enforces. Node only (the TypeScript compiler, like test/types).
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { renderTable } from '../src/cli/cluster-table.ts';
import type { InstanceRow } from '../src/cli/cluster-view.ts';
import { METADATA_LIMITS } from '../src/discovery/metadata.ts';
import { compile, tempFolder } from './types/support.ts';

const DOC = readFileSync(new URL('../docs/metadata.md', import.meta.url), 'utf8');
const folder = tempFolder('metadata-docs');
afterAll(() => folder.remove());

function block(language: string): string {
  // The info string may carry marks after the language (`text output`; docs/development.md).
  const found = new RegExp('```' + language + '(?: [^\\n]*)?\\n([\\s\\S]*?)```').exec(DOC)?.[1];
  expect(found, `a ${language} block`).toBeDefined();
  return found as string;
}

describe('docs/metadata.md', () => {
  it('shows an example that compiles', { timeout: 60_000 }, () => {
    expect(compile(folder.path, { 'example.ts': block('ts') })).toEqual([]);
  });

  it('shows the status table status prints for those instances', () => {
    const at = 1_700_000_000_000;
    const row = (url: string, id: string, lastSeen: number, roundTripMs: number | null, zone: string, metadata: Record<string, string>): InstanceRow =>
      ({ service: 'user-service', id, url, status: 'UP', ejected: false, lastSeen, roundTripMs, routes: 3, zone, metadata });
    const rows = [
      row('http://10.0.1.7:3000', '3f9a0c12d4e5b6a7', at, null, 'eu-west-1a', { track: 'canary', version: '2.1.0' }),
      row('http://10.0.2.9:3000', '8b1e44aa90c2d3f1', at - 800, 0.61, 'eu-west-1b', { version: '2.0.4' }),
    ];
    expect(renderTable({ rows, reached: ['http://10.0.1.7:3000'], unreachable: [], at })).toBe(block('text'));
  });

  it('states the limits the code enforces', () => {
    expect(DOC).toContain(`| labels | at most ${METADATA_LIMITS.keys} |`);
    expect(DOC).toContain(`| key | 1–${METADATA_LIMITS.keyLength} characters`);
    expect(DOC).toContain(`| value | a string of at most ${METADATA_LIMITS.valueLength} characters`);
    expect(DOC).toContain(`| all labels | at most ${METADATA_LIMITS.totalLength} characters`);
    expect(DOC).toContain(`| zone | 1–${METADATA_LIMITS.zoneLength} characters`);
  });
});
