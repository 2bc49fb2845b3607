// The last table of `npm run bench`: every target of the run with its verdict.
import { readFileSync } from 'node:fs';
import { table } from './bench-lib.mjs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
const verdicts = lines.filter((line) => line.target !== undefined);
if (verdicts.length === 0) {
  console.log('\nbench: no results were recorded');
  process.exit(1);
}
const order = ['calls', 'calls-tls', 'transfer', 'convergence', 'detection', 'failover', 'gray', 'tail', 'fleets', 'types'];
verdicts.sort((a, b) => order.indexOf(a.section) - order.indexOf(b.section));
table(
  'Summary: every target of this run',
  ['section', 'runtime', 'target', 'measured', 'verdict'],
  verdicts.map((v) => [v.section, v.section === 'calls' ? v.runtime : 'node', v.target, v.measured, v.ok ? 'PASS' : 'MISS']),
  [`${verdicts.filter((v) => !v.ok).length} of ${verdicts.length} targets missed.`],
  3,
);
