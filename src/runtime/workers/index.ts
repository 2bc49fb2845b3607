import cluster from 'node:cluster';
import { Server as NetServer } from 'node:net';
import { runtimeName } from '../http/runtime-name.ts';

/**
 * Names the group of processes that share this process's listening socket, or undefined when it
 * listens alone. node:cluster workers (PM2's cluster mode is node:cluster too) accept connections
 * on one port that their primary holds: a caller cannot tell which worker it reached, so they
 * must be one instance to the cluster (docs/ARCHITECTURE.md, "Several workers on one port").
 * The group is the primary's pid: the same for every worker it forks, re-forks included, and
 * another when the whole group is restarted.
 */
export function sharedListenerGroup(): string | undefined {
  return cluster.isWorker ? `node:cluster primary ${process.ppid}` : undefined;
}

/**
 * Stops `server` taking new connections and keeps the open ones; false where that cannot be done,
 * and nothing changes. A node:cluster worker's share of the port then goes to its siblings (the
 * primary hands it no more connections) while its callers' keep-alive connections finish their
 * requests; node:http's own `close()` would also close the idle ones, under a request a caller
 * may be writing on one that moment. Node only: Bun's http server is not node:net's and its
 * `close()` closes the idle connections too; on Deno, whose http server is node:net's, a
 * connection that arrived as a worker closed its listener this way was now and then reset (about
 * 1 in 400 requests of a client that opens a connection per request, test/fault/workers.test.ts).
 * There the drain waits as a lone instance's does.
 */
export function stopAccepting(server: object): boolean {
  if (runtimeName !== 'node' || !(server instanceof NetServer)) return false;
  NetServer.prototype.close.call(server);
  return true;
}
