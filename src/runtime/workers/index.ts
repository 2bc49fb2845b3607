import cluster from 'node:cluster';

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
