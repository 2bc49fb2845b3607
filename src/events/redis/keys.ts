/**
 * Where the durable events live in Redis (docs/events-redis.md): one stream per event, shared by
 * every group that subscribes to it (each group is a consumer group on it, so each gets every
 * entry), and one dead-letter stream per event beside it.
 */

/** The stream of `event`: `<prefix>:<event>`. Event names never contain a space, so the key is plain. */
export function streamKey(prefix: string, event: string): string {
  return `${prefix}:${event}`;
}

/** The dead-letter stream of `event`: `<prefix>:<event>:dead`, entries that failed `maxAttempts` times. */
export function deadLetterKey(prefix: string, event: string): string {
  return `${prefix}:${event}:dead`;
}

/** The Redis URL without its credentials, for log lines and error messages (`redis://host:6379`). */
export function redisAddress(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return 'the configured Redis';
  }
}
