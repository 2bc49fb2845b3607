/** `--check`: whether the file on disk is what would be generated now, and where it first differs. */

const SHOW = 70;

function shown(line: string | undefined): string {
  if (line === undefined) return '(end of file)';
  const trimmed = line.trim();
  return JSON.stringify(trimmed.length > SHOW ? `${trimmed.slice(0, SHOW)}…` : trimmed);
}

/**
 * `undefined` when `onDisk` is `generated` (line endings aside: a checkout may have turned `\n`
 * into `\r\n`), else a short description of the first line that differs.
 */
export function firstDifference(onDisk: string, generated: string): string | undefined {
  const have = onDisk.replace(/\r\n/g, '\n');
  if (have === generated) return undefined;
  const left = have.split('\n');
  const right = generated.split('\n');
  let line = 0;
  while (line < left.length && line < right.length && left[line] === right[line]) line++;
  return `line ${line + 1} is ${shown(left[line])}, would be ${shown(right[line])}`;
}
