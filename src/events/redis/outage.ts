/**
 * One warning when Redis is lost and one info line when it is back, for all of an instance's
 * connections together (the command connection and one reader per subscription): not a line per
 * connection, nor per reconnection attempt.
 */
import type { Logger } from '../../options.ts';
import type { RedisConnection } from '../../runtime/redis/index.ts';

/** Watches connections and logs the start and the end of each outage once. */
export class Outage {
  readonly #logger: Logger;
  readonly #where: string;
  readonly #down = new Set<RedisConnection>();
  #warned = false;

  /** `where`: the Redis address without credentials, for the log lines. */
  constructor(logger: Logger, where: string) {
    this.#logger = logger;
    this.#where = where;
  }

  /** Whether any watched connection is down now. */
  get down(): boolean {
    return this.#down.size > 0;
  }

  /** Starts watching `connection`. */
  watch(connection: RedisConnection): void {
    connection.onStatus((status, cause) => {
      if (status === 'down') {
        this.#down.add(connection);
        if (this.#warned) return;
        this.#warned = true;
        this.#logger.warn(`express-micro: Redis at ${this.#where} is unreachable${cause ? ` (${cause.message})` : ''}; emit fails and consumers wait until it is back`);
        return;
      }
      this.#down.delete(connection);
      if (this.#down.size === 0 && this.#warned) {
        this.#warned = false;
        this.#logger.info(`express-micro: Redis at ${this.#where} answers again; consumers resume`);
      }
    });
  }

  /** Stops counting `connection` (it was closed). */
  forget(connection: RedisConnection): void {
    this.#down.delete(connection);
  }
}
