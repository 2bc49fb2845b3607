// Commands a bench child takes on stdin, one a line (scripts/bench-child.mjs,
// scripts/bench-floor-child.mjs): `handle` gets each trimmed line.
import process from 'node:process';

/** Calls `handle` with each line that arrives on stdin, trimmed. */
export function onCommands(handle) {
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    input += chunk;
    let newline;
    while ((newline = input.indexOf('\n')) >= 0) {
      const command = input.slice(0, newline).trim();
      input = input.slice(newline + 1);
      handle(command);
    }
  });
}
