// What a signed POST costs behind requireSignature() placed first vs after express.json() (where
// the body's hash is taken as the parser reads it: docs/security.md), each as a ratio against the
// same signed POST to an app with express.json() and no check, in interleaved rounds of one run.
// Node, loopback only; not part of scripts/bench. `npm run build`, then:
//   node scripts/bench-signed-bodies.mjs            (a 1 kB body; BODY=100000 for 100 kB)
import express from 'express';
import { Pool } from 'undici';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import expressMicro from '../dist/index.js';

const SECRET = 'bench-secret-0123456789abcdef0123456789';
async function start(shape) {
  const app = express();
  const micro = expressMicro(app, { serviceName: `s-${shape}`, host: '127.0.0.1', secret: SECRET, enableHmac: true, logger: false });
  if (shape === 'first') app.use(micro.requireSignature(), express.json());
  else if (shape === 'after') app.use(express.json(), micro.requireSignature());
  else app.use(express.json());
  app.post('/items', (req, res) => res.json({ n: req.body.n }));
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  while (micro.url === undefined) await new Promise((r) => setTimeout(r, 5));
  const id = micro.peers().find((p) => p.self).id;
  return { url: `http://127.0.0.1:${server.address().port}`, id, pool: new Pool(`http://127.0.0.1:${server.address().port}`, { connections: 4 }), close: async () => { await micro.close(); server.close(); } };
}
function headers(id, body) {
  const timestamp = String(Date.now()), nonce = randomBytes(16).toString('hex');
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const signature = createHmac('sha256', SECRET).update(`POST\n${id}\n/items\n${timestamp}\n${nonce}\n${bodyHash}`).digest('hex');
  return { 'content-type': 'application/json', 'x-micro-timestamp': timestamp, 'x-micro-nonce': nonce, 'x-micro-content-sha256': bodyHash, 'x-micro-signature': signature, 'x-micro-audience': id };
}
const body = JSON.stringify({ n: 1, pad: 'x'.repeat(Number(process.env.BODY ?? 1000)) });
const targets = { none: await start('none'), first: await start('first'), after: await start('after') };
async function round(t, calls) {
  const begun = performance.now();
  for (let i = 0; i < calls; i++) {
    const r = await t.pool.request({ path: '/items', method: 'POST', headers: headers(t.id, body), body });
    if (r.statusCode !== 200) throw new Error(`status ${r.statusCode}: ${await r.body.text()}`);
    await r.body.json();
  }
  return (performance.now() - begun) / calls;
}
const ratios = { first: [], after: [] };
for (const t of Object.values(targets)) await round(t, 300);
for (let r = 0; r < 9; r++) {
  const order = Object.keys(targets).sort(() => Math.random() - 0.5);
  const ms = {};
  for (const k of order) ms[k] = await round(targets[k], 800);
  ratios.first.push(ms.first / ms.none); ratios.after.push(ms.after / ms.none);
}
const median = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`body ${body.length} B: requireSignature first ${median(ratios.first).toFixed(3)}x, after express.json() ${median(ratios.after).toFixed(3)}x (vs express.json() alone, signed headers sent to all; median of 9 rounds of 800 sequential POSTs)`);
for (const t of Object.values(targets)) { await t.pool.close(); await t.close(); }
process.exit(0);
