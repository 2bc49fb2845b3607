// npm run demo: starts the two example services on 127.0.0.1, waits until they have found each
// other, makes a cross-service call, prints its answer and the discovery table, and stops both.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const secret = randomBytes(32).toString('hex');
const children = [];

function start(file, env) {
  const child = spawn(process.execPath, [file], {
    env: { ...process.env, EXPRESS_DISCOVERY_KEY: secret, HOST: '127.0.0.1', PING_INTERVAL: '500', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${file} did not start:\n${output}`)), 15_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(`  [${file.split('/').pop()}] ${chunk}`);
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}:\n${output}`)));
  });
}

async function waitFor(check, what, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const discovery = (url) =>
  fetch(`${url}/_discovery/services`, { headers: { authorization: `Bearer ${secret}` } }).then((response) => response.json());

try {
  console.log('Starting user-service (the seed) and order-service on 127.0.0.1 ...');
  const userUrl = await start('examples/user-service.cjs', { PORT: '0' });
  const orderUrl = await start('examples/order-service.mjs', { PORT: '0', PEERS: userUrl });
  await waitFor(async () => (await discovery(orderUrl)).connectedPeers['user-service']?.status === 'UP', 'order-service to see user-service');
  await waitFor(async () => (await discovery(userUrl)).connectedPeers['order-service']?.status === 'UP', 'user-service to see order-service');

  console.log(`\nGET ${orderUrl}/summary/7  (order-service calls services.userService.getUser and itself)`);
  const summary = await fetch(`${orderUrl}/summary/7`).then((response) => response.json());
  console.log(JSON.stringify(summary, null, 2));

  console.log(`\nGET ${userUrl}/users/7/orders  (user-service calls services.orderService.getOrders)`);
  console.log(JSON.stringify(await fetch(`${userUrl}/users/7/orders`).then((response) => response.json())));

  console.log(`\nGET ${orderUrl}/_discovery/services  (the discovery table, as order-service sees it)`);
  const table = await discovery(orderUrl);
  console.log(JSON.stringify(table, null, 2));
  console.log('\nmembers:');
  console.table(
    [{ service: table.thisService.name, url: table.thisService.url, status: 'SELF', routes: table.thisService.routes.length }].concat(
      Object.entries(table.connectedPeers).map(([service, peer]) => ({ service, url: peer.url, status: peer.status, routes: peer.routes.length })),
    ),
  );
  console.log('\ndemo OK');
} catch (error) {
  console.error(`demo failed: ${error.message}`);
  process.exitCode = 1;
} finally {
  for (const child of children) child.kill('SIGTERM');
}
