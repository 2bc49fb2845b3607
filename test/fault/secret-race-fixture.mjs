// A service that waits on stdin for "go" before it resolves its secret, so that several processes
// started apart all reach the secret file at the same moment. With no `secret` option and an
// empty EXPRESS_DISCOVERY_KEY, the secret comes from the file in $TMPDIR. Prints "READY <port>".
import express from 'express';
import expressMicro from '../../dist/index.js';

const options = JSON.parse(process.env.FIXTURE_OPTIONS ?? '{}');
const app = express();
app.get('/whoami', (_req, res) => res.json({ pid: process.pid }));
process.stdin.once('data', () => {
  try {
    expressMicro(app, options);
  } catch (error) {
    process.stdout.write(`ERROR ${error.message}\n`);
    process.exit(1);
  }
  const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
});
process.stdout.write('WAITING\n');
